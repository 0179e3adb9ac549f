"""The agent's durable store: SQLite in WAL mode with every commit fsync'd, and group commit.

One writer thread owns the write connection. Callers hand it a function of a connection; the writer runs
everything that is waiting inside one transaction (each function in its own savepoint, so one failure
rolls back only its own work), commits once, then answers every caller. A caller is answered only after
its work is durable. Reads use their own connections and never block the writer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.resources
import json
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from .json_types import JsonObject
from .keys import SiteKey

T = TypeVar("T")
MAX_GROUP = 512
# A job for the writer thread: its work and the future that answers its caller (jobs of every result type
# share the one queue, hence Any).
Job = tuple[Callable[[sqlite3.Connection], Any], "concurrent.futures.Future[Any]"]
AGENT_LOCK_WAIT_S = 3.0  # the agent's writer waits this long for another process's write lock: a check-in
# fails (503) before the kiosk's 5 s timeout instead of hanging; a failed batch is rolled back whole
CLI_LOCK_WAIT_S = 30.0  # everyone else (CLI commands beside a running agent) waits patiently


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with this package, in order."""
    found = []
    for entry in importlib.resources.files("edge_agent.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; each step in its own transaction. Returns the version."""
    current: int = conn.execute("PRAGMA user_version").fetchone()[0]
    for version, _name, sql in migrations():
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = version
    return current


def _statements(sql: str) -> list[str]:
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(l.strip().startswith("--") or not l.strip() for l in buffer.splitlines()):
        statements.append(buffer.strip())
    return [s for s in statements if s]


@dataclass(frozen=True)
class OutboxItem:
    id: int
    event_type: str
    aggregate_id: str
    patient_key: str
    payload: JsonObject
    attempts: int
    created_at: float


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    dead: int
    delivered: int
    oldest_pending_age_s: float | None
    last_success_at: float | None
    purged_at: float | None = None  # the last purge of expired patient data (edge_agent/retention.py)


class Store:
    def __init__(self, path: Path, key: SiteKey, lock_wait_s: float = CLI_LOCK_WAIT_S):
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_conn = connect(self.path)
        self.schema_version = migrate(self._writer_conn)
        self._writer_conn.execute(f"PRAGMA busy_timeout = {int(lock_wait_s * 1000)}")
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._local = threading.local()
        self._read_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="store-read")
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._writer.start()

    # --- writing ---------------------------------------------------------------------------------

    def submit(self, work: Callable[[sqlite3.Connection], T]) -> "concurrent.futures.Future[T]":
        if self._closed:
            raise RuntimeError("store is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((work, future))
        return future

    def write_sync(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return self.submit(work).result()

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(work))

    def _write_loop(self) -> None:
        conn = self._writer_conn
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_GROUP:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)
                    break
                batch.append(job)
            self._run_batch(conn, batch)

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[Job]) -> None:
        results: list[tuple[bool, Any]] = []
        try:
            if conn.in_transaction:  # an earlier rollback failed (disk full): finish it first
                conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
            for work, _future in batch:
                conn.execute("SAVEPOINT job")
                try:
                    results.append((True, work(conn)))
                    conn.execute("RELEASE job")
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    if not conn.in_transaction:  # SQLite rolled it all back itself (disk full, I/O error):
                        raise  # nobody's work in this batch stands, and every caller hears the real reason
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((False, exc))
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - the commit itself failed: nobody's work is durable
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:  # the writer thread must outlive a disk that is full or failing
                    pass
            results = [(False, exc)] * len(batch)
        for (ok, value), (_work, future) in zip(results, batch):
            if future.set_running_or_notify_cancel():
                future.set_result(value) if ok else future.set_exception(value)

    # --- reading ---------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, readonly=True)
        return conn

    def read_sync(self, query: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return query(conn)
        finally:
            conn.execute("COMMIT")

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, self.read_sync, query)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._writer.join()
        self._read_pool.shutdown(wait=True)
        self._writer_conn.close()

    # --- sealing ---------------------------------------------------------------------------------

    def seal_json(self, value: Any, context: str) -> bytes:
        return self.key.seal(json.dumps(value, separators=(",", ":"), default=str).encode(), context.encode())

    def unseal_json(self, sealed: bytes, context: str) -> Any:
        return json.loads(self.key.unseal(sealed, context.encode()))

    # --- meta ------------------------------------------------------------------------------------

    @staticmethod
    def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get_meta(self, key: str) -> str | None:
        row = self.read_sync(lambda c: c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return row[0] if row else None

    # --- outbox ----------------------------------------------------------------------------------

    def enqueue(
        self, conn: sqlite3.Connection, event_type: str, aggregate_id: str, patient_key: str, payload: JsonObject
    ) -> int:
        """Add an event inside the caller's transaction (call it from a `write` function)."""
        now = time.time()
        cursor = conn.execute(
            "INSERT INTO outbox(event_type, aggregate_id, patient_key, payload_sealed, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (event_type, aggregate_id, patient_key, self.seal_json(payload, f"outbox:{aggregate_id}"), now, now),
        )
        assert cursor.lastrowid is not None  # sqlite3 sets it on every INSERT
        return cursor.lastrowid

    def outbox_due(self, limit: int, now: float | None = None) -> list[OutboxItem]:
        """Pending events whose time has come, each the oldest pending one of its patient."""
        now = time.time() if now is None else now

        def query(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(
                "SELECT o.* FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= ?"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.patient_key = o.patient_key"
                "                 AND p.status = 'pending' AND p.id < o.id)"
                " ORDER BY o.id LIMIT ?",
                (now, limit),
            ).fetchall()

        return [self._outbox_item(row) for row in self.read_sync(query)]

    def _outbox_item(self, row: sqlite3.Row) -> OutboxItem:
        return OutboxItem(
            id=row["id"],
            event_type=row["event_type"],
            aggregate_id=row["aggregate_id"],
            patient_key=row["patient_key"],
            payload=self.unseal_json(row["payload_sealed"], f"outbox:{row['aggregate_id']}"),
            attempts=row["attempts"],
            created_at=row["created_at"],
        )

    def next_due_at(self) -> float | None:
        row = self.read_sync(
            lambda c: c.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'").fetchone()
        )
        due_at: float | None = row[0]
        return due_at

    def mark_delivered(self, ids: list[int]) -> None:
        now = time.time()

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = ''"
                " WHERE id = ? AND status = 'pending'",
                [(now, item_id) for item_id in ids],
            )
            conn.executemany("DELETE FROM delivery_parts WHERE outbox_id = ?", [(item_id,) for item_id in ids])
            self.set_meta(conn, "last_sync_success_at", repr(now))

        self.write_sync(work)

    def confirmed_parts(self, outbox_id: int) -> dict[str, dict[str, str]]:
        """{part: {fullUrl: "Type/id"}} of the parts of an event central already confirmed."""
        rows = self.read_sync(
            lambda c: c.execute("SELECT part, resolved FROM delivery_parts WHERE outbox_id = ?", (outbox_id,)).fetchall()
        )
        return {part: json.loads(resolved) for part, resolved in rows}

    def confirm_parts(self, outbox_id: int, parts: list[str], resolved: dict[str, str]) -> Callable[[sqlite3.Connection], None]:
        """A write function recording that central confirmed `parts` of an event (and what they created)."""
        now = time.time()

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO delivery_parts(outbox_id, part, resolved, confirmed_at) VALUES (?, ?, ?, ?)",
                [(outbox_id, part, json.dumps(resolved if n == 0 else {}), now) for n, part in enumerate(parts)],
            )

        return work

    def mark_retry(self, item_id: int, next_attempt_at: float, error: str) -> None:
        self.write_sync(
            lambda conn: conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
                " WHERE id = ? AND status = 'pending'",
                (next_attempt_at, error[:500], item_id),
            )
        )

    def mark_dead(self, item_id: int, error: str, outcome: str) -> None:
        self.write_sync(
            lambda conn: conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, outcome = ?"
                " WHERE id = ? AND status = 'pending'",
                (error[:500], outcome[:20000], item_id),
            )
        )

    def requeue(self, item_id: int) -> bool:
        """Send a dead letter again (after staff fixed the cause)."""
        cursor = self.write_sync(
            lambda conn: conn.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = '' WHERE id = ? AND status = 'dead'",
                (time.time(), item_id),
            )
        )
        return cursor.rowcount == 1

    def outbox_stats(self, now: float | None = None) -> OutboxStats:
        now = time.time() if now is None else now

        def query(conn: sqlite3.Connection) -> OutboxStats:
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
            oldest = conn.execute("SELECT MIN(created_at) FROM outbox WHERE status = 'pending'").fetchone()[0]
            success = conn.execute("SELECT value FROM meta WHERE key = 'last_sync_success_at'").fetchone()
            purged = conn.execute("SELECT value FROM meta WHERE key = 'retention_purged_at'").fetchone()
            return OutboxStats(
                pending=counts.get("pending", 0),
                dead=counts.get("dead", 0),
                delivered=counts.get("delivered", 0),
                oldest_pending_age_s=None if oldest is None else max(0.0, now - oldest),
                last_success_at=float(success[0]) if success else None,
                purged_at=float(purged[0]) if purged else None,
            )

        return self.read_sync(query)
