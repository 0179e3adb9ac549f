"""Check-ins the central system refused for good (outbox status 'dead'), with the server's message,
and an admin's decision on each: retry (back to pending) or discard with a reason (the row stays)."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from dataclasses import dataclass

from ..store import Store
from . import audit


@dataclass(frozen=True)
class DeadLetter:
    id: int
    event_type: str
    aggregate_id: str
    attempts: int
    created_at: str
    error: str
    outcome: str  # the server's OperationOutcome (JSON text)

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


class NotADeadLetter(KeyError):
    """No undiscarded dead letter with that id."""


def dead_letters(conn: sqlite3.Connection, limit: int = 200) -> list[DeadLetter]:
    rows = conn.execute(
        "SELECT id, event_type, aggregate_id, attempts, created_at, last_error, outcome FROM outbox"
        " WHERE status = 'dead' AND id NOT IN (SELECT outbox_id FROM dead_letter_discards) ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        DeadLetter(
            id=row["id"], event_type=row["event_type"], aggregate_id=row["aggregate_id"], attempts=row["attempts"],
            created_at=dt.datetime.fromtimestamp(row["created_at"], dt.UTC).isoformat(timespec="seconds"),
            error=row["last_error"], outcome=row["outcome"],
        )  # fmt: skip
        for row in rows
    ]


def count(conn: sqlite3.Connection) -> int:
    total: int = conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE status = 'dead' AND id NOT IN (SELECT outbox_id FROM dead_letter_discards)"
    ).fetchone()[0]
    return total


async def retry(store: Store, outbox_id: int, actor: str) -> None:
    """Back to pending, due now (the store's requeue), audited."""
    discarded = await store.read(
        lambda c: c.execute("SELECT 1 FROM dead_letter_discards WHERE outbox_id = ?", (outbox_id,)).fetchone()
    )
    if discarded or not await asyncio.to_thread(store.requeue, outbox_id):
        raise NotADeadLetter(outbox_id)
    await audit.log(store, actor, "dead_letter.retry", str(outbox_id))


def discard(conn: sqlite3.Connection, outbox_id: int, actor: str, reason: str) -> None:
    row = conn.execute("SELECT aggregate_id FROM outbox WHERE id = ? AND status = 'dead'", (outbox_id,)).fetchone()
    if row is None:
        raise NotADeadLetter(outbox_id)
    inserted = conn.execute(
        "INSERT OR IGNORE INTO dead_letter_discards(outbox_id, reason, discarded_by, discarded_at) VALUES (?, ?, ?, ?)",
        (outbox_id, reason, actor, time.time()),
    ).rowcount
    if not inserted:
        raise NotADeadLetter(outbox_id)
    audit.record(conn, actor, "dead_letter.discard", str(outbox_id), {"reason": reason, "checkin": row[0]})
