"""The seal on a consent PDF: an HMAC-SHA256 under the site key over every byte before it.

The seal is one PDF comment line appended after `%%EOF`, which PDF readers ignore:

    %LobbyCheckinSeal hmac-sha256 key=<key id> <64 hex digits>\n

A file is intact only if it equals its body followed by exactly the seal this site's key gives for
that body, so changing, adding or removing any byte anywhere (body or seal line) fails the check.
"""

from __future__ import annotations

import hmac

from ..keys import SiteKey

PURPOSE = b"consent-pdf"
MARKER = b"%LobbyCheckinSeal "
ALGORITHM = b"hmac-sha256"


def key_id(key: SiteKey) -> str:
    """A short public name of the sealing key (not the key): tells which key sealed a file."""
    return key.mac(PURPOSE, b"key-id")[:6].hex()


def seal_line(body: bytes, key: SiteKey) -> bytes:
    digest = key.mac(PURPOSE, body).hex().encode()
    return MARKER + ALGORITHM + b" key=" + key_id(key).encode() + b" " + digest + b"\n"


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
    parts = split(data)
    if parts is None:
        return False
    body, line = parts
    return hmac.compare_digest(line, seal_line(body, key))


def sealed_with_key_id(data: bytes) -> str | None:
    parts = split(data)
    if parts is None:
        return None
    fields = parts[1].split()
    return fields[2].removeprefix(b"key=").decode("ascii", "replace") if len(fields) >= 4 else None
