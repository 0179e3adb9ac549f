"""The site key: one secret, kept outside the database, from which every other key is derived.

- `seal` / `unseal`: AES-256-GCM for PHI at rest (patient details, schedule cache, outbox payloads).
- `pseudonym`: a keyed hash that lets the store index and order by a patient without storing who.
- `mac`: HMAC-SHA256 for sealing consent PDFs and signing reminder codes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12


class SiteKey:
    def __init__(self, secret: bytes):
        if len(secret) != KEY_BYTES:
            raise ValueError("a site key is 32 bytes")
        self.secret = secret
        self._aead = AESGCM(self.derive(b"phi-at-rest"))
        self._pseudonym_key = self.derive(b"pseudonym")

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
        return cls(path.read_bytes())

    def derive(self, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"lobby-checkin/" + purpose).derive(
            self.secret
        )

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def unseal(self, sealed: bytes, context: bytes = b"") -> bytes:
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)

    def pseudonym(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self._pseudonym_key, message, hashlib.sha256).hexdigest()[:32]

    def mac(self, purpose: bytes, message: bytes) -> bytes:
        return hmac.new(self.derive(purpose), message, hashlib.sha256).digest()
