"""`edge-agent rotate-site-key`: replace the site key and re-encrypt every sealed value in the store.

Runs with the agent stopped (the agent holds `agent.lock` in its data folder while it runs). Steps, each
durable before the next, so a run killed at any point (SIGKILL included) is finished by running it again:

1. the key file becomes a keyring with a fresh `next` key (edge_agent/keys.py);
2. every sealed column (SEALED_COLUMNS) is re-encrypted under `next`, in batches of one transaction each;
   a value's envelope header names its key, so a rerun skips what is done. An agent started in between
   reads both keys;
3. `next` becomes `current`; the old secret leaves the file, only its consent-PDF verification key stays.

A `*_sealed` column this module does not know (a later migration) stops the rotation before it starts:
left under the old key, it would become unreadable.
"""

from __future__ import annotations

import fcntl
import sqlite3
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from . import arrivals
from .config import SiteConfig
from .eligibility.checks import request_context, summary_context
from .insurance_cards import back_context, fields_context, front_context
from .keys import Keyring, SiteKey, key_id, sealed_by, write_key_file
from .store import connect, migrate

LOCK_FILE = "agent.lock"
BATCH_ROWS = 200


@dataclass(frozen=True)
class SealedColumn:
    table: str
    column: str
    key: str  # the row's primary key column (rowid where the key has several)
    context: Callable[[sqlite3.Row], str]  # the AES-GCM associated data the value was sealed with
    needs: tuple[str, ...] = ()  # other columns `context` reads


SEALED_COLUMNS = (
    SealedColumn("appointments", "details_sealed", "appointment_id", lambda r: f"appointment:{r['appointment_id']}"),
    SealedColumn("arrivals", "details_sealed", "checkin_id", lambda r: arrivals.details_context(r["checkin_id"])),
    SealedColumn("arrivals", "eligibility_sealed", "checkin_id", lambda r: arrivals.eligibility_context(r["checkin_id"])),
    SealedColumn("consents", "record_sealed", "consent_id", lambda r: f"consent:{r['consent_id']}"),
    SealedColumn("consents", "pdf_sealed", "consent_id", lambda r: f"consent-pdf:{r['consent_id']}"),
    SealedColumn("outbox", "payload_sealed", "id", lambda r: f"outbox:{r['aggregate_id']}", ("aggregate_id",)),
    SealedColumn("eligibility_checks", "request_sealed", "rowid", lambda r: request_context(r["patient_key"], r["day"]),
                 ("patient_key", "day")),
    SealedColumn("eligibility_checks", "summary_sealed", "rowid", lambda r: summary_context(r["patient_key"], r["day"]),
                 ("patient_key", "day")),
    SealedColumn("insurance_cards", "front_sealed", "checkin_id", lambda r: front_context(r["checkin_id"])),
    SealedColumn("insurance_cards", "back_sealed", "checkin_id", lambda r: back_context(r["checkin_id"])),
    SealedColumn("insurance_cards", "fields_sealed", "checkin_id", lambda r: fields_context(r["checkin_id"])),
)


class RotationError(Exception):
    """The rotation cannot go ahead; the message says why in one line."""


@dataclass(frozen=True)
class Progress:
    table: str
    column: str
    reencrypted: int  # in this batch


def hold_agent_lock(config: SiteConfig) -> BinaryIO:
    """The running agent's claim on its data folder (kept open for the process's life)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(config.data_dir / LOCK_FILE, "a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RotationError("another edge-agent process holds this data folder") from None
    return handle


def unknown_sealed_columns(conn: sqlite3.Connection) -> list[str]:
    known = {(c.table, c.column) for c in SEALED_COLUMNS}
    found = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for column in conn.execute(f"PRAGMA table_info({table})").fetchall():
            if column[1].endswith("_sealed") and (table, column[1]) not in known:
                found.append(f"{table}.{column[1]}")
    return found


def rotate(config: SiteConfig, *, batch_rows: int = BATCH_ROWS, report: Callable[[Progress], None] = lambda p: None) -> str:
    """Rotate (or finish a rotation that was cut short); returns the new key's id."""
    try:
        lock = hold_agent_lock(config)
    except RotationError:
        raise RotationError("the agent is running: stop it first (systemctl stop edge-agent)") from None
    try:
        if not config.key_file.exists():
            raise RotationError(f"no site key at {config.key_file}")
        ring = Keyring.parse(config.key_file.read_bytes())
        conn = connect(config.store_path)
        try:
            migrate(conn)
            if unknown := unknown_sealed_columns(conn):
                raise RotationError(f"sealed columns unknown to the rotation: {', '.join(unknown)}")
            if ring.next is None:
                ring = ring.with_next()
                write_key_file(config.key_file, ring.dump())
            key = SiteKey(ring, seal_with_next=True)
            assert ring.next is not None  # just made, or left by the run this one finishes
            for column in SEALED_COLUMNS:
                for progress in _reencrypt(conn, key, column, batch_rows):
                    report(progress)
        finally:
            conn.close()
        write_key_file(config.key_file, ring.promoted().dump())
        return key_id(ring.next).hex()
    finally:
        lock.close()


def _reencrypt(conn: sqlite3.Connection, key: SiteKey, column: SealedColumn, batch_rows: int) -> Iterator[Progress]:
    target = key.sealing_key_id
    columns = ", ".join(dict.fromkeys([column.key, column.column, *column.needs]))
    after = None
    while True:
        where = f"{column.column} IS NOT NULL AND length({column.column}) > 0"
        where += f" AND {column.key} > ?" if after is not None else ""
        rows = conn.execute(
            f"SELECT {columns} FROM {column.table} WHERE {where} ORDER BY {column.key} LIMIT ?",
            ((after,) if after is not None else ()) + (batch_rows,),
        ).fetchall()
        if not rows:
            return
        after = rows[-1][column.key]
        stale = [row for row in rows if sealed_by(row[column.column]) != target]
        if not stale:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for row in stale:
                context = column.context(row).encode()
                resealed = key.seal(key.unseal(row[column.column], context), context)
                conn.execute(
                    f"UPDATE {column.table} SET {column.column} = ? WHERE {column.key} = ?", (resealed, row[column.key])
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        yield Progress(column.table, column.column, len(stale))
