"""The audit log: who did what, when, to which subject.

Every staff action and every view of a patient's details is recorded. `record` joins the caller's
transaction (so an action and its audit entry commit together); `log` is a write of its own. Details
are small JSON objects of codes and ids, never PHI. Admins read the log and export it as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import time
from dataclasses import dataclass

from ..store import Store

CSV_COLUMNS = ("id", "at", "actor", "action", "subject", "detail")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    subject: str
    detail: dict

    def as_json(self) -> dict:
        return {**self.__dict__, "at": _iso(self.at)}


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="seconds")


def record(conn: sqlite3.Connection, actor: str, action: str, subject: str = "", detail: dict | None = None) -> None:
    """Add an entry inside the caller's write transaction."""
    conn.execute(
        "INSERT INTO audit_log(at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (time.time(), actor, action, subject, json.dumps(detail or {}, separators=(",", ":"), sort_keys=True)),
    )


async def log(store: Store, actor: str, action: str, subject: str = "", detail: dict | None = None) -> None:
    await store.write(lambda conn: record(conn, actor, action, subject, detail))


async def entries(store: Store, *, limit: int = 500, before_id: int | None = None) -> list[AuditEntry]:
    """The newest entries first."""

    def query(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return conn.execute(
            "SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
            (before_id if before_id is not None else 2**62, limit),
        ).fetchall()

    return [
        AuditEntry(row["id"], row["at"], row["actor"], row["action"], row["subject"], json.loads(row["detail"]))
        for row in await store.read(query)
    ]


def _cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: list[AuditEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in rows:
        fields = (entry.id, _iso(entry.at), entry.actor, entry.action, entry.subject, json.dumps(entry.detail))
        writer.writerow([_cell(field) for field in fields])
    return buffer.getvalue()
