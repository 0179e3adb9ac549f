"""The audit log: who did what, when, to which subject.

Every staff action and every view of a patient's details is recorded. `record` joins the caller's
transaction (so an action and its audit entry commit together); `log` is a write of its own. Details
are small JSON objects of codes and ids, never PHI. Admins read the log and export it as CSV.
Failed sign-ins are not logged one by one but counted (`FailedSignIns`): one summary entry per period.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import datetime as dt
import io
import json
import sqlite3
import time
from dataclasses import dataclass

from ..json_types import JsonObject
from ..store import Store

CSV_COLUMNS = ("id", "at", "actor", "action", "subject", "detail")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    subject: str
    detail: JsonObject

    def as_json(self) -> JsonObject:
        return {**self.__dict__, "at": _iso(self.at)}


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="seconds")


def record(
    conn: sqlite3.Connection, actor: str, action: str, subject: str = "", detail: JsonObject | None = None
) -> None:
    """Add an entry inside the caller's write transaction."""
    conn.execute(
        "INSERT INTO audit_log(at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (time.time(), actor, action, subject, json.dumps(detail or {}, separators=(",", ":"), sort_keys=True)),
    )


async def log(store: Store, actor: str, action: str, subject: str = "", detail: JsonObject | None = None) -> None:
    await store.write(lambda conn: record(conn, actor, action, subject, detail))


class FailedSignIns:
    """Failed sign-ins, counted in memory and written as ONE audit entry per period (`signin.failures`):

        "37 failed sign-ins from 3 sources, 2 known accounts (admin, frontdesk), 4 unknown names"

    Known accounts are named with their counts; names that are no account are only counted, never
    stored, so an attacker cannot write into the log. The period starts with its first failure; its
    entry is written `period_s` later (one entry a period however large the flood)."""

    MAX_SOURCES_NAMED = 10

    def __init__(self, store: Store, period_s: float):
        self.store = store
        self.period_s = period_s
        self._reset()
        self._flush_task: asyncio.Task[None] | None = None

    def _reset(self) -> None:
        self.started_at: float | None = None
        self.failures = 0
        self.throttled = 0
        self.unknown_names = 0
        self.sources: collections.Counter[str] = collections.Counter()
        self.accounts: collections.Counter[str] = collections.Counter()

    def add(self, source: str, account: str | None, *, throttled: bool = False) -> None:
        """One refused attempt: `account` is a known account's name, None for a name that is none."""
        if self.started_at is None:
            self.started_at = time.time()
            asyncio.get_running_loop().call_later(self.period_s, self._start_flush)
        self.failures += 1
        self.throttled += throttled
        if account is None:
            self.unknown_names += 1
        else:
            self.accounts[account] += 1
        if source in self.sources or len(self.sources) < 10_000:
            self.sources[source] += 1

    def _start_flush(self) -> None:
        self._flush_task = asyncio.ensure_future(self.flush())

    def summary(self) -> str:
        accounts = f" ({', '.join(sorted(self.accounts))})" if self.accounts else ""
        return (f"{self.failures} failed sign-ins from {len(self.sources)} sources, "
                f"{len(self.accounts)} known accounts{accounts}, {self.unknown_names} unknown names")  # fmt: skip

    async def flush(self) -> None:
        """Write the period's entry now (nothing if there was no failure)."""
        if self.started_at is None:
            return
        detail = {
            "summary": self.summary(), "failures": self.failures, "throttled": self.throttled,
            "unknown_names": self.unknown_names, "accounts": dict(self.accounts),
            "sources": len(self.sources),
            "busiest_sources": dict(self.sources.most_common(self.MAX_SOURCES_NAMED)),
            "from": _iso(self.started_at), "to": _iso(time.time()),
        }  # fmt: skip
        self._reset()
        await log(self.store, "-", "signin.failures", "", detail)


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
