"""The agent's SMART Backend Services signing keys: private JWKs in `central.key_dir`, newest first.

    ring = KeyRing(key_dir)
    ring.generate("ES384")   # a new key (new kid) beside the old ones; returns it
    ring.jwks()              # the public keys, to register with the EHR
    ring.keys()              # newest first: the agent signs with the first one the EHR accepts
    ring.record_working(kid) # the kid that last got a token (a small file in key_dir)
    ring.retire_old()        # drop the keys older than the working one

Rotation keeps the old key valid until the new one works: after `generate`, the EHR gets the new JWKS
(old + new); the agent tries the newest key and falls back to older ones while the EHR still refuses it.
Each key is one file, `<created>-<kid>.jwk.json`, mode 0600, in a 0700 folder outside the database.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from joserfc.jwk import ECKey, RSAKey

from ..json_types import JsonObject

SigningAlg = Literal["ES384", "RS384"]
SIGNING_ALGS: tuple[SigningAlg, ...] = ("ES384", "RS384")
WORKING_FILE = "working-kid"
KEY_SUFFIX = ".jwk.json"


class KeyRingError(Exception):
    """The key folder cannot be used (empty, unreadable, or a retirement that would lose the working key)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: SigningAlg
    created: int  # unix seconds; orders the keys
    key: ECKey | RSAKey

    def public_jwk(self) -> JsonObject:
        return {**self.key.as_dict(private=False), "kid": self.kid, "alg": self.alg, "use": "sig"}


def _new_key(alg: SigningAlg) -> ECKey | RSAKey:
    if alg == "ES384":
        return ECKey.generate_key("P-384", private=True)
    return RSAKey.generate_key(3072, private=True)


class KeyRing:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _key_files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"*{KEY_SUFFIX}"), reverse=True)  # the name starts with `created`

    def keys(self) -> list[SigningKey]:
        """All keys, newest first."""
        keys = []
        for path in self._key_files():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                alg = record["alg"]
                key_class = ECKey if alg == "ES384" else RSAKey
                keys.append(SigningKey(record["kid"], alg, int(record["created"]), key_class.import_key(record["jwk"])))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise KeyRingError(f"{path}: not a usable key file ({type(exc).__name__})") from None
        return sorted(keys, key=lambda k: k.created, reverse=True)

    def generate(self, alg: SigningAlg = "ES384") -> SigningKey:
        if alg not in SIGNING_ALGS:
            raise KeyRingError(f"signing algorithm must be one of {', '.join(SIGNING_ALGS)}, got {alg!r}")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.folder, 0o700)
        key = _new_key(alg)
        created = max([int(time.time()), *(k.created + 1 for k in self.keys())])  # strictly newest
        signing = SigningKey(key.thumbprint(), alg, created, key)
        record = {"kid": signing.kid, "alg": alg, "created": created, "jwk": key.as_dict(private=True)}
        path = self.folder / f"{created:012d}-{signing.kid}{KEY_SUFFIX}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(record, out)
        return signing

    def jwks(self) -> dict[str, list[JsonObject]]:
        """The public JWKS (every key, newest first), to register with the EHR."""
        return {"keys": [key.public_jwk() for key in self.keys()]}

    def working_kid(self) -> str | None:
        try:
            return (self.folder / WORKING_FILE).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def record_working(self, kid: str) -> None:
        if self.working_kid() == kid:
            return
        temporary = self.folder / f"{WORKING_FILE}.tmp"
        temporary.write_text(kid + "\n", encoding="utf-8")
        os.replace(temporary, self.folder / WORKING_FILE)

    def retire_old(self) -> list[str]:
        """Delete the keys created before the one that last got a token; returns their kids."""
        working = self.working_kid()
        keys = self.keys()
        current = next((key for key in keys if key.kid == working), None)
        if current is None:
            raise KeyRingError(
                "no key has got a token yet (or the one that did is gone): nothing is retired until one works"
            )
        retired = [key for key in keys if key.created < current.created]
        for path in self._key_files():
            if any(path.name.endswith(f"-{key.kid}{KEY_SUFFIX}") for key in retired):
                path.unlink()
        return [key.kid for key in retired]
