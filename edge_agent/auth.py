"""Kiosk tokens: enrolled once, shown once, stored only as a SHA-256 hash.

    token = store.write_sync(lambda c: auth.enroll(c, "kiosk-1"))   # print it once; re-enrolling rotates
    kiosk_id = await kiosk_auth.authenticate(authorization_header)    # 401 Problem otherwise
                                                                      # (in a route: dependencies.KioskId)

Tokens are 256 random bits, so a fast unsalted hash is enough (no guessing to slow down). Verified
hashes are cached in memory for CACHE_S so the hot path never touches the database (a miss is read on
the store's reader threads, never on the event loop). Whoever enrolls or revokes a kiosk (the CLI,
another process) then calls `tokens_changed(store_path)`, which replaces a marker file beside the
database; a running agent stats it on every request (a microsecond) and empties its cache when it
changed, so a revoked or rotated token is refused on the very next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from pathlib import Path

from .problems import ProblemError
from .store import Store

CACHE_S = 30.0
TOKENS_CHANGED_MARKER = "kiosk-tokens.changed"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enroll(conn: sqlite3.Connection, kiosk_id: str) -> str:
    """Create (or rotate) a kiosk's token inside a write; returns the token, which is not kept."""
    token = new_token()
    conn.execute(
        "INSERT INTO kiosks(kiosk_id, token_hash, enrolled_at) VALUES (?, ?, ?) ON CONFLICT(kiosk_id) DO UPDATE"
        " SET token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at, revoked_at = NULL",
        (kiosk_id, token_hash(token), dt.datetime.now(dt.UTC).isoformat()),
    )
    return token


def revoke(conn: sqlite3.Connection, kiosk_id: str) -> bool:
    """Revoke a kiosk's token inside a write; False if there is no such kiosk with a live token."""
    revoked_at = dt.datetime.now(dt.UTC).isoformat()
    changed = conn.execute(
        "UPDATE kiosks SET revoked_at = ? WHERE kiosk_id = ? AND revoked_at IS NULL", (revoked_at, kiosk_id)
    ).rowcount
    return changed > 0


def _marker(store_path: Path) -> Path:
    return Path(store_path).with_name(TOKENS_CHANGED_MARKER)


def tokens_changed(store_path: Path) -> None:
    """Tell running agents that kiosk tokens changed (call after the change committed)."""
    marker = _marker(store_path)
    fresh = marker.with_name(marker.name + ".new")
    fresh.write_text(str(time.time_ns()))
    os.replace(fresh, marker)  # a new inode each time: no change can go unseen


class KioskAuth:
    def __init__(self, store: Store):
        self.store = store
        self._cache: dict[str, tuple[str, float]] = {}
        self._marker = _marker(store.path)
        self._tokens_seen = self._tokens_stamp()

    def _tokens_stamp(self) -> tuple[int, int]:
        try:
            info = os.stat(self._marker)
        except FileNotFoundError:
            return (0, 0)
        return (info.st_ino, info.st_mtime_ns)

    async def kiosk_for(self, token: str) -> str | None:
        """The kiosk id a token belongs to, or None."""
        if (stamp := self._tokens_stamp()) != self._tokens_seen:
            self._cache.clear()
            self._tokens_seen = stamp
        digest = token_hash(token)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached and now - cached[1] < CACHE_S:
            return cached[0]
        row = await self.store.read(
            lambda c: c.execute(
                "SELECT kiosk_id, token_hash FROM kiosks WHERE token_hash = ? AND revoked_at IS NULL", (digest,)
            ).fetchone()
        )
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            self._cache.pop(digest, None)
            return None
        kiosk_id: str = row["kiosk_id"]
        self._cache[digest] = (kiosk_id, now)
        return kiosk_id

    async def authenticate(self, authorization_header: str) -> str:
        """The kiosk id of an `Authorization: Bearer <token>` header; a 401 Problem otherwise."""
        scheme, _, token = authorization_header.partition(" ")
        kiosk_id = await self.kiosk_for(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if kiosk_id is None:
            raise ProblemError(
                401, "unauthorized", "A valid kiosk token is required (Authorization: Bearer <token>).",
                headers={"WWW-Authenticate": 'Bearer realm="kiosk"'},
            )  # fmt: skip
        return kiosk_id


def require_same_kiosk(claimed: str, authenticated: str) -> None:
    """A body that names a kiosk must name the one whose token came with it (403 otherwise)."""
    if claimed != authenticated:
        raise ProblemError(403, "wrong_kiosk", "kiosk_id does not match the kiosk token.", field="kiosk_id")
