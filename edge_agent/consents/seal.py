"""The seal on a consent PDF: an HMAC-SHA256 under the site key over every byte before it.

The seal is one PDF comment line appended after `%%EOF`, which PDF readers ignore:

    %LobbyCheckinSeal hmac-sha256 key=<key id> <64 hex digits>\n

A file is intact only if it equals its body followed by exactly the seal this site's key gives for
that body, so changing, adding or removing any byte anywhere (body or seal line) fails the check.
"""

from __future__ import annotations

import hashlib
import hmac

from ..keys import SiteKey

PURPOSE = b"consent-pdf"
MARKER = b"%LobbyCheckinSeal "
ALGORITHM = b"hmac-sha256"


def key_id(key: SiteKey) -> str:
    """A short public name of the sealing key (not the key): tells which key sealed a file."""
    return _mac_key_id(key.mac_keys(PURPOSE)[0])


def _mac_key_id(mac_key: bytes) -> str:
    return hmac.new(mac_key, b"key-id", hashlib.sha256).digest()[:6].hex()


def _seal_line(body: bytes, mac_key: bytes) -> bytes:
    digest = hmac.new(mac_key, body, hashlib.sha256).hexdigest().encode()
    return MARKER + ALGORITHM + b" key=" + _mac_key_id(mac_key).encode() + b" " + digest + b"\n"


def seal_line(body: bytes, key: SiteKey) -> bytes:
    return _seal_line(body, key.mac_keys(PURPOSE)[0])


def seal(pdf: bytes, key: SiteKey) -> bytes:
    body = pdf if pdf.endswith(b"\n") else pdf + b"\n"
    return body + seal_line(body, key)


def split(data: bytes) -> tuple[bytes, bytes] | None:
    """(body, seal line) of a sealed file, or None when it carries no seal at all."""
    at = data.rfind(b"\n" + MARKER)
    if at < 0:
        return None
    return data[: at + 1], data[at + 1 :]


def is_intact(data: bytes, key: SiteKey) -> bool:
    """Sealed by this site's key, or by one it retired in a key rotation (edge_agent/keys.py keeps their
    verification keys: a PDF handed out or sent to the central system before a rotation stays checkable)."""
    parts = split(data)
    if parts is None:
        return False
    body, line = parts
    return any(hmac.compare_digest(line, _seal_line(body, mac_key)) for mac_key in key.mac_keys(PURPOSE))


def retired_key_ids(key: SiteKey) -> list[str]:
    return [_mac_key_id(mac_key) for mac_key in key.mac_keys(PURPOSE)[1:]]


def sealed_with_key_id(data: bytes) -> str | None:
    parts = split(data)
    if parts is None:
        return None
    fields = parts[1].split()
    return fields[2].removeprefix(b"key=").decode("ascii", "replace") if len(fields) >= 4 else None
