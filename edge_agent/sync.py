"""The sync worker: delivers the outbox to the central system, in order per patient, exactly once.

Exactly once as the central system sees it comes from two halves. Here: an event leaves the outbox
only after the central system confirmed it (so a crash at any moment means "send again", never
"lost"). At the other end: every Bundle is idempotent (conditional creates on identifiers derived from
the check-in id, an idempotent patch), so "send again" creates nothing twice.

Failures of the central system as a whole (timeouts, refused connections, 5xx, 408, 429) pause all
deliveries with exponential backoff and full jitter, never shorter than the server's Retry-After;
a refusal of one event (any other 4xx) sends it to the dead-letter list with the server's
OperationOutcome. The arrivals code calls `notify()` after enqueueing, so new check-ins go out at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import sqlite3
import time
from dataclasses import asdict, dataclass
from typing import Callable

from .central.base import Connector, Delivery
from .config import CentralSection
from .store import OutboxItem, Store

log = logging.getLogger(__name__)

BASE_BACKOFF_S = 0.5
CLAIM_BATCH = 256  # due events read per query: the per-patient query costs the same for 1 or 256
IDLE_CHECK_S = 5.0  # also picks up events enqueued by other processes (e.g. a requeue from the CLI)
PING_EVERY_S = 30.0


@dataclass
class SyncHealth:
    """What /healthz and the dashboard show about sync. No patient data."""

    central_kind: str
    central_reachable: bool | None = None  # None: not tried yet
    last_success_at: float | None = None
    last_attempt_at: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    consecutive_failures: int = 0
    paused_until: float | None = None
    in_flight: int = 0
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def backoff_s(failures: int, cap_s: float, retry_after_s: float | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^failures)], but never before Retry-After."""
    jittered = random.uniform(0.0, min(cap_s, BASE_BACKOFF_S * 2 ** min(failures, 30)))
    return max(jittered, retry_after_s or 0.0)


class SyncWorker:
    def __init__(self, store: Store, connector: Connector, central: CentralSection):
        self.store = store
        self.connector = connector
        self.central = central
        self.health = SyncHealth(central_kind=connector.kind)
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._claimed: collections.deque[OutboxItem] = collections.deque()  # due, not started yet
        # Delivered at central, not yet marked in the store: still claimed, so never fetched again, but
        # no longer holding a delivery slot. One store write marks them all.
        self._unrecorded: list[int] = []
        self._recording: set[int] = set()
        self._recorder: asyncio.Task[None] | None = None
        self._last_contact = 0.0

    def notify(self) -> None:
        """Something was enqueued (or requeued): look at the outbox now. Call from the event loop."""
        self._wake.set()

    async def run(self) -> None:
        if self.connector.kind == "none":  # no central system: everything simply waits in the outbox
            while not self._stopping:
                await self._sleep(IDLE_CHECK_S * 12)
            return
        try:
            while not self._stopping:
                self._wake.clear()
                started = await self._start_due()
                if started == 0:
                    await self._sleep(await self._idle_wait())
        finally:
            await self._cancel_in_flight()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await self._cancel_in_flight()
        await self.connector.aclose()

    async def _finish_recording(self) -> None:
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)

    # --- dispatching -----------------------------------------------------------------------------

    def _paused_for(self) -> float:
        if self.health.paused_until is None:
            return 0.0
        return max(0.0, self.health.paused_until - time.time())

    async def _start_due(self) -> int:
        """Start deliveries up to the concurrency limit; returns how many started.

        Due events are read in batches and kept in `_claimed`. Every one of them is the oldest
        pending event of its patient, and its successors only become due once it is delivered, so
        working through a batch keeps the order per patient.
        """
        free = self.central.concurrency - len(self._in_flight)
        if free <= 0 or self._paused_for() > 0:
            return 0
        if len(self._claimed) < free:
            await self._claim_more()
        started = 0
        while self._claimed and started < free:
            item = self._claimed.popleft()
            self._in_flight[item.id] = asyncio.create_task(self._deliver(item), name=f"sync-{item.id}")
            started += 1
        self.health.in_flight = len(self._in_flight)
        return started

    async def _claim_more(self) -> None:
        taken = set(self._in_flight) | self._recording | {item.id for item in self._claimed}
        due = await asyncio.to_thread(self.store.outbox_due, CLAIM_BATCH + len(taken))
        self._claimed.extend(item for item in due if item.id not in taken)

    async def _idle_wait(self) -> float:
        paused = self._paused_for()
        if paused > 0:
            return paused
        if self._in_flight or self._recording:
            return IDLE_CHECK_S  # a finishing delivery or store write wakes us
        next_due = await asyncio.to_thread(self.store.next_due_at)
        if next_due is None:
            if time.time() - self._last_contact > PING_EVERY_S:
                await self._ping()
            return IDLE_CHECK_S
        # A due event can be blocked behind its patient's earlier one (in backoff): poll gently.
        return min(IDLE_CHECK_S, max(0.25, next_due - time.time()))

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def _ping(self) -> None:
        self._last_contact = time.time()
        self.health.central_reachable = await self.connector.ping()

    async def _cancel_in_flight(self) -> None:
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()  # the event stays pending and goes out again later: nothing lost
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._finish_recording()  # what central confirmed is marked, so it is not sent again

    # --- one event -------------------------------------------------------------------------------

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            self.health.last_attempt_at = time.time()
            try:
                result = await self.connector.deliver(item)
            except Exception as exc:  # noqa: BLE001 - a connector bug must not lose the event
                # the exception's type only: its message could quote patient data
                log.error("sync connector failed", extra={"outbox_id": item.id, "error": type(exc).__name__})
                result = Delivery.retry(type(exc).__name__)
            await self._record(item, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. the store closing during shutdown: the event stays pending
            log.error("sync outcome not recorded", extra={"outbox_id": item.id, "error": type(exc).__name__})
        finally:
            self._in_flight.pop(item.id, None)
            self.health.in_flight = len(self._in_flight)
            self._wake.set()

    async def _record(self, item: OutboxItem, result: Delivery) -> None:
        now = time.time()
        self._last_contact = now
        if result.outcome == "delivered":
            self._recording.add(item.id)
            self._unrecorded.append(item.id)
            if self._recorder is None or self._recorder.done():
                self._recorder = asyncio.create_task(self._record_delivered(), name="sync-record")
            if self.health.consecutive_failures:
                await self.store.write(expedite_pending(now))
            self.health.central_reachable = True
            self.health.last_success_at = now
            self.health.consecutive_failures = 0
            self.health.paused_until = None
            self.health.delivered += 1
            log.debug("sync delivered", extra={"outbox_id": item.id, "checkin_id": item.aggregate_id})
        elif result.outcome == "retry":
            delay = backoff_s(self.health.consecutive_failures, self.central.max_backoff_s, result.after)
            self.health.consecutive_failures += 1
            self.health.paused_until = max(self.health.paused_until or 0.0, now + delay)
            self.health.central_reachable = result.reason.startswith(("HTTP", "ACK"))  # it answered
            self.health.last_error, self.health.last_error_at = result.reason, now
            self.health.retried += 1
            self._claimed.clear()  # central is in trouble: read again what is due once the pause ends
            await asyncio.to_thread(self.store.mark_retry, item.id, now + delay, result.reason)
            log.warning("sync will retry", extra={
                "outbox_id": item.id, "checkin_id": item.aggregate_id, "reason": result.reason,
                "retry_in_s": round(delay, 2), "attempt": item.attempts + 1,
            })  # fmt: skip
        else:
            await asyncio.to_thread(self.store.mark_dead, item.id, result.reason, result.server_outcome)
            self.health.central_reachable = True
            self.health.last_error, self.health.last_error_at = f"rejected: {result.reason}", now
            self.health.dead_lettered += 1
            log.error("sync rejected by central", extra={
                "outbox_id": item.id, "checkin_id": item.aggregate_id, "reason": result.reason,
            })  # fmt: skip


    async def _record_delivered(self) -> None:
        while self._unrecorded:
            ids, self._unrecorded = self._unrecorded, []
            try:
                await asyncio.to_thread(self.store.mark_delivered, ids)
            except Exception as exc:  # noqa: BLE001 - they stay pending and go out again: a no-op at central
                log.error("sync delivered events not marked", extra={"count": len(ids), "error": type(exc).__name__})
            finally:
                self._recording.difference_update(ids)
                self._wake.set()


def expedite_pending(now: float) -> Callable[[sqlite3.Connection], int]:
    """After an outage ends, events waiting out their backoff are due at once (in their order)."""

    def work(conn: sqlite3.Connection) -> int:
        return conn.execute(
            "UPDATE outbox SET next_attempt_at = ? WHERE status = 'pending' AND next_attempt_at > ?", (now, now)
        ).rowcount

    return work
