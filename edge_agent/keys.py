"""The site key: one secret, kept outside the database, from which every other key is derived.

- `seal` / `unseal`: AES-256-GCM for PHI at rest (patient details, schedule cache, outbox payloads).
  A sealed value starts with an envelope header naming the key that sealed it (`MAGIC` + key id), so
  `edge-agent rotate-site-key` (edge_agent/key_rotation.py) can re-encrypt row by row and resume.
  Values sealed before headers existed are still read (tried under each key held).
- `pseudonym`: a keyed hash that lets the store index and order by a patient without storing who.
- `mac`: HMAC-SHA256 for sealing consent PDFs; `mac_keys(purpose)` also gives retired keys' MAC keys,
  so a PDF sealed before a rotation still verifies.

The key file is either the 32 raw bytes of a site that never rotated, or a keyring (JSON, mode 0600):

    {"format": "lobby-keyring/1", "current": HEX, "next": HEX | null, "pseudonym_key": HEX,
     "retired": [{"id": KEY_ID, "retired_at": ISO, "macs": {"consent-pdf": HEX}}]}

`next` exists only while a rotation is under way. A retired key keeps only its derived consent-PDF MAC
key (verification), never its secret: what it sealed at rest can no longer be decrypted with this file.
The pseudonym key is carried over from the first key, because stored pseudonyms (patient keys that tie
consents and outbox order to a patient) must keep meaning the same patient.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_BYTES = 8
MAGIC = b"LK\x01"  # envelope header: MAGIC + key id + nonce + ciphertext
KEYRING_FORMAT = "lobby-keyring/1"
VERIFY_PURPOSES = (b"consent-pdf",)


def derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"lobby-checkin/" + purpose).derive(secret)


def key_id(secret: bytes) -> bytes:
    return derive(secret, b"key-id")[:KEY_ID_BYTES]


@dataclass(frozen=True)
class RetiredKey:
    id: str  # hex key id
    retired_at: str
    macs: dict[str, bytes] = field(default_factory=dict)  # purpose -> derived MAC key


@dataclass(frozen=True)
class Keyring:
    current: bytes
    next: bytes | None = None
    pseudonym_key: bytes | None = None
    retired: tuple[RetiredKey, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> "Keyring":
        if len(data) == KEY_BYTES:
            return cls(current=data)
        try:
            ring = json.loads(data)
            if ring.get("format") != KEYRING_FORMAT:
                raise ValueError
            return cls(
                current=bytes.fromhex(ring["current"]),
                next=bytes.fromhex(ring["next"]) if ring.get("next") else None,
                pseudonym_key=bytes.fromhex(ring["pseudonym_key"]) if ring.get("pseudonym_key") else None,
                retired=tuple(
                    RetiredKey(r["id"], r["retired_at"], {p: bytes.fromhex(k) for p, k in r["macs"].items()})
                    for r in ring.get("retired", [])
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError("a site key is 32 bytes or a lobby keyring") from None

    def dump(self) -> bytes:
        return json.dumps({
            "format": KEYRING_FORMAT,
            "current": self.current.hex(),
            "next": self.next.hex() if self.next else None,
            "pseudonym_key": (self.pseudonym_key or derive(self.current, b"pseudonym")).hex(),
            "retired": [{"id": r.id, "retired_at": r.retired_at, "macs": {p: k.hex() for p, k in r.macs.items()}}
                        for r in self.retired],
        }, indent=1).encode()  # fmt: skip

    def with_next(self) -> "Keyring":
        """A rotation begins: a fresh next key (the pseudonym key is pinned now, before `current` changes)."""
        return Keyring(self.current, secrets.token_bytes(KEY_BYTES), self._pseudonym(), self.retired)

    def promoted(self) -> "Keyring":
        """Re-encryption is complete: `next` becomes current, the old key keeps only its verification keys."""
        assert self.next is not None
        old = RetiredKey(key_id(self.current).hex(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                         {p.decode(): derive(self.current, p) for p in VERIFY_PURPOSES})  # fmt: skip
        kept = tuple(r for r in self.retired if r.id != old.id) + (old,)
        return Keyring(self.next, None, self._pseudonym(), kept)

    def _pseudonym(self) -> bytes:
        return self.pseudonym_key or derive(self.current, b"pseudonym")


def write_key_file(path: Path, data: bytes) -> None:
    """Replace the key file atomically and durably (mode 0600): a crash leaves the old or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = path.with_name(path.name + ".tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class SiteKey:
    def __init__(self, secret: bytes | Keyring, *, seal_with_next: bool = False):
        ring = secret if isinstance(secret, Keyring) else Keyring.parse(secret)
        if len(ring.current) != KEY_BYTES or (ring.next is not None and len(ring.next) != KEY_BYTES):
            raise ValueError("a site key is 32 bytes")
        self.keyring = ring
        self.secret = ring.current
        held = [ring.current] + ([ring.next] if ring.next else [])
        self._aeads = {key_id(secret): AESGCM(derive(secret, b"phi-at-rest")) for secret in held}
        sealing = ring.next if seal_with_next and ring.next else ring.current
        self.sealing_key_id = key_id(sealing)
        self._pseudonym_key = ring.pseudonym_key or derive(ring.current, b"pseudonym")

    @classmethod
    def load(cls, path: Path, *, seal_with_next: bool = False) -> "SiteKey":
        return cls(Keyring.parse(Path(path).read_bytes()), seal_with_next=seal_with_next)

    @classmethod
    def load_or_create(cls, path: Path) -> "SiteKey":
        """Read the key file, creating it (mode 0600, in a 0700 folder) on first start."""
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
        return cls.load(path)

    def derive(self, purpose: bytes) -> bytes:
        return derive(self.secret, purpose)

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return MAGIC + self.sealing_key_id + nonce + self._aeads[self.sealing_key_id].encrypt(nonce, plaintext, context)

    def unseal(self, sealed: bytes, context: bytes = b"") -> bytes:
        named = sealed_by(sealed)
        if named is not None and named in self._aeads:
            body = sealed[len(MAGIC) + KEY_ID_BYTES :]
            return self._aeads[named].decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], context)
        for aead in self._aeads.values():  # sealed before envelope headers: nonce + ciphertext
            try:
                return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
            except InvalidTag:
                continue
        raise InvalidTag("sealed under no key this site holds")

    def pseudonym(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self._pseudonym_key, message, hashlib.sha256).hexdigest()[:32]

    def mac(self, purpose: bytes, message: bytes) -> bytes:
        return hmac.new(self.derive(purpose), message, hashlib.sha256).digest()

    def mac_keys(self, purpose: bytes) -> list[bytes]:
        """MAC keys a seal may have been made with: the current key's first, then retired keys'."""
        retired = [r.macs[purpose.decode()] for r in reversed(self.keyring.retired) if purpose.decode() in r.macs]
        return [self.derive(purpose), *retired]


def sealed_by(sealed: bytes) -> bytes | None:
    """The id of the key named in a sealed value's envelope header; None for a value without one."""
    if len(sealed) > len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES and sealed.startswith(MAGIC):
        return sealed[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]
    return None
