"""Purging patient data the agent no longer needs (consents: edge_agent/consents/retention.py).

Once a check-in's outbox events are all delivered and `[agent] retention_days` have passed, its sealed
details (arrival), sealed payloads (outbox) and scanned insurance card (images and fields) are emptied; rows stay, so counts, tickets and flags
remain for statistics. Idempotency records older than the retention are deleted (a kiosk's spool
retries long before that). Cached schedules of past days are deleted: lookups only use today's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import time
from typing import Callable

from . import insurance_cards
from .store import Store

log = logging.getLogger(__name__)
PURGE_EVERY_S = 3600.0
PURGED = b""


def purge(conn: sqlite3.Connection, cutoff: float, today: str) -> dict[str, int]:
    """Inside a write: purge what was delivered before `cutoff` (epoch s) and schedules before `today`."""
    delivered = (
        "SELECT aggregate_id FROM outbox WHERE status = 'delivered' AND delivered_at < :cutoff"
        " AND aggregate_id NOT IN (SELECT aggregate_id FROM outbox WHERE status != 'delivered')"
    )
    params = {"cutoff": cutoff, "purged": PURGED}
    arrivals = conn.execute(
        f"UPDATE arrivals SET details_sealed = :purged WHERE details_sealed != :purged AND checkin_id IN ({delivered})",
        params,
    ).rowcount
    cards = insurance_cards.purge_delivered(conn, delivered, params)
    outbox = conn.execute(
        "UPDATE outbox SET payload_sealed = :purged WHERE payload_sealed != :purged"
        " AND status = 'delivered' AND delivered_at < :cutoff",
        params,
    ).rowcount
    cutoff_iso = dt.datetime.fromtimestamp(cutoff, dt.UTC).isoformat()
    keys = conn.execute("DELETE FROM idempotency WHERE created_at < ?", (cutoff_iso,)).rowcount
    schedules = conn.execute("DELETE FROM appointments WHERE day < ?", (today,)).rowcount
    Store.set_meta(conn, "retention_purged_at", repr(time.time()))  # /metrics: lobby_retention_last_purge_age_seconds
    return {"arrivals": arrivals, "outbox": outbox, "insurance_cards": cards, "idempotency": keys, "appointments": schedules}


async def keep_purging(
    store: Store, retention_days: int, today: Callable[[], str], every_s: float = PURGE_EVERY_S,
    beat: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """Purge now and then every `every_s`; `today()` gives the site-local day (YYYY-MM-DD). A failed
    purge raises: the agent's supervisor (edge_agent/supervision.py) logs it and starts this again."""
    while True:
        cutoff = time.time() - retention_days * 86400
        day = today()
        counts = await store.write(lambda conn: purge(conn, cutoff, day))
        if any(counts.values()):
            log.info("purged expired patient data", extra={"count": sum(counts.values())})
        if beat is not None:
            beat()
        await asyncio.sleep(every_s)
