"""Purging consent PHI once the central system holds it and the site's retention has passed.

The sealed record (name, birth date, strokes) and the sealed PDF go; the decision columns stay (patient
pseudonym, document, version, decision, time), because the due-rules need them for years ("signed
yearly", "signed this version once"). A purged consent's PDF is then only at the central system.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Callable

from ..store import Store
from .records import PURGED

log = logging.getLogger(__name__)
PURGE_EVERY_S = 3600.0


def purge_delivered(conn: sqlite3.Connection, delivered_before: float) -> int:
    """Inside a write: purge consents whose check-in was delivered before `delivered_before` (epoch s)."""
    cursor = conn.execute(
        "UPDATE consents SET record_sealed = ?, pdf_sealed = NULL"
        " WHERE record_sealed != ? AND checkin_id IN ("
        "   SELECT aggregate_id FROM outbox WHERE status = 'delivered' AND delivered_at < ?"
        "   AND aggregate_id NOT IN (SELECT aggregate_id FROM outbox WHERE status != 'delivered'))",
        (PURGED, PURGED, delivered_before),
    )
    return cursor.rowcount


def purge_expired(store: Store, retention_days: int, now: float | None = None) -> int:
    """Purge what `[agent] retention_days` allows; returns how many consents were purged."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    return store.write_sync(lambda conn: purge_delivered(conn, cutoff))


async def keep_purging(
    store: Store, retention_days: int, every_s: float = PURGE_EVERY_S, beat: Callable[[], None] | None = None
) -> None:
    """The agent's background task: purge now, then every `every_s` seconds (a failure raises: the
    supervisor restarts it); `beat()` after each purge that worked."""
    while True:
        purged = await asyncio.to_thread(purge_expired, store, retention_days)
        if purged:
            log.info("consent details purged after delivery and retention", extra={"count": purged})
        if beat is not None:
            beat()
        await asyncio.sleep(every_s)
