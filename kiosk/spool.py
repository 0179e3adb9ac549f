"""The kiosk's offline spool: check-ins taken while the agent was away, kept until it has them.

SQLite for durability (each check-in committed before its ticket is shown), AES-GCM for privacy (the
key lives in its own file beside the database, readable only by the kiosk's user). Tickets come from
the kiosk's own range (`K2-001`, `K2-002`, ...) so they never collide with the agent's. Entries are
forwarded oldest first with their original idempotency key and deleted only once the agent has them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lobby_core.contract import CheckinRequest, CheckinResponse, OfflineSpool

SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    checkin_id TEXT NOT NULL UNIQUE,
    sealed BLOB NOT NULL,
    problem TEXT  -- set when the agent refused it for good: kept for staff, not retried
);
CREATE TABLE IF NOT EXISTS ticket_counter (only INTEGER PRIMARY KEY CHECK (only = 1), last INTEGER NOT NULL);
"""
MAX_TICKET = 9999


@dataclass(frozen=True)
class Delivery:
    delivered: int
    rejected: int
    remaining: int


class Spool:
    def __init__(self, folder: Path, ticket_prefix: str):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ticket_prefix = ticket_prefix
        self._aead = AESGCM(_load_or_create_key(folder / "spool.key"))
        self._lock = threading.RLock()  # the UI thread reads the depth while the backend thread writes
        self._db = sqlite3.connect(folder / "spool.db", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, request: CheckinRequest, now: dt.datetime) -> CheckinResponse:
        """Keep a check-in for later and give it a ticket from the kiosk's range. Idempotent by checkin_id."""
        with self._transaction():
            existing = self._find(request.checkin_id)
            if existing is not None:
                return _offline_answer(existing)
            spooled = request.model_copy(update={"offline": OfflineSpool(kiosk_ticket=self._next_ticket(), spooled_at=now)})
            spooled = CheckinRequest.model_validate(spooled.model_dump())
            self._db.execute(
                "INSERT INTO spooled (checkin_id, sealed) VALUES (?, ?)",
                (str(request.checkin_id), self._seal(spooled)),
            )
        return _offline_answer(spooled)

    def pending(self) -> list[CheckinRequest]:
        rows = self._query("SELECT checkin_id, sealed FROM spooled WHERE problem IS NULL ORDER BY seq")
        return [self._unseal(checkin_id, sealed) for checkin_id, sealed in rows]

    def depth(self) -> int:
        return self._query("SELECT count(*) FROM spooled WHERE problem IS NULL")[0][0]

    def rejected_count(self) -> int:
        return self._query("SELECT count(*) FROM spooled WHERE problem IS NOT NULL")[0][0]

    def delivered(self, checkin_id: uuid.UUID) -> None:
        """The agent has it: the patient's data leaves the kiosk."""
        self._query("DELETE FROM spooled WHERE checkin_id = ?", str(checkin_id))

    def rejected(self, checkin_id: uuid.UUID, problem: str) -> None:
        self._query("UPDATE spooled SET problem = ? WHERE checkin_id = ?", problem[:500], str(checkin_id))

    # --- internals --------------------------------------------------------------------------------

    def _query(self, sql: str, *parameters: object) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _find(self, checkin_id: uuid.UUID) -> CheckinRequest | None:
        row = self._db.execute("SELECT sealed FROM spooled WHERE checkin_id = ?", (str(checkin_id),)).fetchone()
        return self._unseal(str(checkin_id), row[0]) if row else None

    def _next_ticket(self) -> str:
        row = self._db.execute("SELECT last FROM ticket_counter WHERE only = 1").fetchone()
        number = (row[0] % MAX_TICKET) + 1 if row else 1
        self._db.execute("INSERT OR REPLACE INTO ticket_counter (only, last) VALUES (1, ?)", (number,))
        return f"{self.ticket_prefix}-{number:03d}"

    def _seal(self, request: CheckinRequest) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, request.model_dump_json().encode(), str(request.checkin_id).encode())

    def _unseal(self, checkin_id: str, sealed: bytes) -> CheckinRequest:
        plain = self._aead.decrypt(sealed[:12], sealed[12:], checkin_id.encode())
        return CheckinRequest.model_validate_json(plain)


def _offline_answer(request: CheckinRequest) -> CheckinResponse:
    return CheckinResponse(checkin_id=request.checkin_id, ticket=request.offline.kiosk_ticket, position=0, estimated_wait_min=0)


def _load_or_create_key(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes()
    key = AESGCM.generate_key(bit_length=256)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key
