"""When eligibility is asked, and what happens with the answer.

    service = EligibilityService(config, store, schedule, events)   # in Agent.__init__ (None when kind = "none")
    spawn(service.supervised(), "eligibility")                      # in Agent.start: one supervised task
    service.after_checkin(checkin_id)       # after a check-in committed: never waits, never fails the check-in

- The evening before: at `batch_time` (site time) every appointment of tomorrow with coverage on file
  is checked (tomorrow comes from the schedule source; with a pushed SIU feed, from the stored rows).
  If the agent was not running then, today's appointments not yet checked are checked at start-up.
- At check-in: the card read at the kiosk (else the coverage on file) is compared with what was asked;
  a different card, or an answer older than `max_age_s`, is asked again at once. A fresh answer is put on
  the arrival straight away.
- Failures (time-out, refused, 5xx, garbage, "payer unable to respond now") leave the check "not
  verified" on the desk and are retried with doubling waits (retry_base_s .. retry_max_s), at most
  `max_attempts` times. Every loop is bounded; the task restarts after an unexpected exception,
  which is logged by type only. Logs name control numbers and states, never who was asked about.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sqlite3
import time
import zoneinfo
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine

from .. import matching
from ..json_types import JsonObject
from lobby_core.appointments import ScheduledAppointment
from . import checks
from .core_client import CoreSource, Unavailable
from .request_270 import Inquiry
from .summary import DeskView, EligibilitySummary

if TYPE_CHECKING:
    from ..arrivals import QueueEntry
    from ..config import SiteConfig
    from ..events import EventBus
    from ..schedule import ScheduleCache
    from ..store import Store

log = logging.getLogger(__name__)
DUE_BATCH = 64  # checks taken per round
CHECKIN_QUEUE = 1000
IDLE_WAKE_S = 60.0
RESTART_S = (1.0, 60.0)
BATCH_META = "eligibility:batch_done"
PENDING_REASON = "Waiting for the payer's answer"


async def supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run `run` for ever: an exception is logged (its type only: messages may quote data) and the task
    starts again after a growing pause."""
    pause = RESTART_S[0]
    while True:
        started = time.monotonic()
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the supervisor's whole point
            log.error("background task failed; restarting", extra={"event": name, "error": type(exc).__name__})
        pause = RESTART_S[0] if time.monotonic() - started > RESTART_S[1] else min(pause * 2, RESTART_S[1])
        await asyncio.sleep(pause)


def coverage_key(key_of: Callable[..., str], payer_id: str, member_id: str) -> str:
    return key_of("eligibility-coverage", payer_id, matching.normalise(member_id))


class EligibilityService:
    def __init__(self, config: "SiteConfig", store: "Store", schedule: "ScheduleCache", events: "EventBus"):
        self.config = config
        self.store = store
        self.schedule = schedule
        self.events = events
        self.section = config.eligibility
        self.zone = zoneinfo.ZoneInfo(config.site.timezone)
        self.source = CoreSource(self.section, config.site.name)
        self._checkins: asyncio.Queue[str] = asyncio.Queue(maxsize=CHECKIN_QUEUE)
        self._wake = asyncio.Event()
        self._payers = {matching.normalise(name): payer_id for name, payer_id in self.section.payer_ids.items()}

    # --- entry points ------------------------------------------------------------------------------

    def supervised(self) -> Coroutine[Any, Any, None]:
        """The background task to spawn for the agent's lifetime."""
        return supervise("eligibility", self.run)

    async def close(self) -> None:
        await self.source.close()

    def after_checkin(self, checkin_id: str) -> None:
        try:
            self._checkins.put_nowait(checkin_id)
        except asyncio.QueueFull:
            log.warning("eligibility queue full; check-in left to the batch", extra={"checkin_id": checkin_id})
        self._wake.set()

    # --- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        await self._schedule_day(self._today(), replace=False)  # at opening: today's not yet checked
        while True:
            self._wake.clear()
            for _ in range(min(self._checkins.qsize(), CHECKIN_QUEUE)):
                await self._on_checkin(self._checkins.get_nowait())
            await self._maybe_batch()
            await self._run_due()
            await self._sleep()

    async def _sleep(self) -> None:
        store = self.store
        next_due = await store.read(checks.next_due_at)
        now = time.time()
        wait = IDLE_WAKE_S if next_due is None else max(0.05, min(IDLE_WAKE_S, next_due - now))
        wait = min(wait, max(0.5, self._seconds_to_batch()))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=wait)
        except asyncio.TimeoutError:
            pass

    def _today(self) -> dt.date:
        return dt.datetime.now(self.zone).date()

    def _seconds_to_batch(self) -> float:
        now = dt.datetime.now(self.zone)
        at = dt.datetime.combine(now.date(), dt.time(self.section.batch_minutes // 60, self.section.batch_minutes % 60), self.zone)
        if at <= now:
            at += dt.timedelta(days=1)
        return (at - now).total_seconds()

    async def _maybe_batch(self) -> None:
        now = dt.datetime.now(self.zone)
        if now.hour * 60 + now.minute < self.section.batch_minutes:
            return
        today = now.date().isoformat()
        if await asyncio.to_thread(self.store.get_meta, BATCH_META) == today:
            return
        tomorrow = now.date() + dt.timedelta(days=1)
        count = await self._schedule_day(tomorrow, replace=False)
        await self.store.write(lambda c: self.store.set_meta(c, BATCH_META, today))
        await self._purge(now.date())
        log.info("eligibility batch scheduled", extra={"day": tomorrow.isoformat(), "count": count})

    async def _appointments_of(self, day: dt.date) -> list[ScheduledAppointment]:
        schedule = self.schedule
        if day == schedule.day:
            return list(schedule.appointments)
        if schedule.source is not None:
            return await schedule.source.fetch_schedule(day)

        def stored(conn: sqlite3.Connection) -> list[ScheduledAppointment | None]:  # a pushed feed stores other days' rows too
            return [schedule.stored(conn, appointment_id) for (appointment_id,) in
                    conn.execute("SELECT appointment_id FROM appointments WHERE day = ?", (day.isoformat(),))]  # fmt: skip

        return [a for a in await self.store.read(stored) if a is not None]

    async def _schedule_day(self, day: dt.date, *, replace: bool) -> int:
        try:
            appointments = await self._appointments_of(day)
        except Exception as exc:  # noqa: BLE001 - a schedule source that fails: try again at the next batch
            log.warning("eligibility batch: schedule unavailable", extra={"error": type(exc).__name__})
            return 0
        store, now = self.store, time.time()
        planned = []
        for appointment in appointments:
            request = self._request(appointment.family, appointment.given, appointment.birth_date.isoformat(),
                                    appointment.coverage.model_dump(mode="json") if appointment.coverage else None,
                                    day.isoformat())  # fmt: skip
            if request is None:
                continue
            patient_key = matching.patient_key(store.key, appointment.family, appointment.given, appointment.birth_date)
            planned.append((patient_key, request))

        def work(conn: sqlite3.Connection) -> int:
            return sum(checks.schedule(conn, store, key, day.isoformat(), request["coverage_key"], request, now,
                                       replace=replace) for key, request in planned)  # fmt: skip

        count = await store.write(work)
        self._wake.set()
        return count

    def _request(self, family: str, given: str, birth_date: str, coverage: JsonObject | None, day: str) -> checks.CheckRequest | None:
        """What to ask, as sealed in the store; None without coverage (nothing to verify)."""
        if not coverage or not coverage.get("member_id"):
            return None
        payer_name = coverage.get("payor", "")
        payer_id = self._payers.get(matching.normalise(payer_name), "")
        return checks.CheckRequest(
            family=family, given=given, birth_date=birth_date, member_id=coverage["member_id"],
            payer_name=payer_name, payer_id=payer_id, day=day,
            coverage_key=coverage_key(self.store.key.pseudonym, payer_id or payer_name, coverage["member_id"]),
        )  # fmt: skip

    async def _purge(self, today: dt.date) -> None:
        cutoff = (today - dt.timedelta(days=self.config.agent.retention_days)).isoformat()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM eligibility_checks WHERE day < ?", (cutoff,))
            conn.execute("UPDATE arrivals SET eligibility_sealed = NULL WHERE day < ? AND eligibility_sealed IS NOT NULL",
                         (cutoff,))  # fmt: skip

        await self.store.write(work)

    # --- at check-in -------------------------------------------------------------------------------

    async def _on_checkin(self, checkin_id: str) -> None:
        store = self.store
        row = await store.read(lambda c: c.execute(
            "SELECT patient_key, day, appointment_id, details_sealed FROM arrivals WHERE checkin_id = ?", (checkin_id,)
        ).fetchone())  # fmt: skip
        if row is None or not row["details_sealed"]:
            return
        from ..arrivals import details_context

        details = store.unseal_json(row["details_sealed"], details_context(checkin_id))
        coverage = details.get("coverage")
        if not coverage and row["appointment_id"]:
            appointment = self.schedule.get(row["appointment_id"])
            coverage = appointment.coverage.model_dump(mode="json") if appointment and appointment.coverage else None
        request = self._request(details.get("family", ""), details.get("given", ""), details.get("birth_date", ""),
                                coverage, row["day"])  # fmt: skip
        if request is None:
            return
        patient_key, day, now = row["patient_key"], row["day"], time.time()

        def work(conn: sqlite3.Connection) -> list["QueueEntry"]:
            known = checks.get(conn, store, patient_key, day)
            if known is not None and known.coverage_key != request["coverage_key"]:
                known = None  # a check of another card says nothing about this one
            if known is not None and known.state in ("verified", "inactive") and (now - (known.answered_at or 0)) <= self.section.max_age_s:
                return checks.apply_view(conn, store, patient_key, day, self._view(known), checkin_id)
            if known is not None and known.state in ("pending", "not_verified"):
                checks.hurry(conn, patient_key, day, now)
                return checks.apply_view(conn, store, patient_key, day, self._view(known), checkin_id)
            checks.schedule(conn, store, patient_key, day, request["coverage_key"], request, now, replace=True)
            return checks.apply_view(conn, store, patient_key, day, DeskView(state="not_verified", reason=PENDING_REASON), checkin_id)

        self._publish(await store.write(work))

    # --- asking ------------------------------------------------------------------------------------

    async def _run_due(self) -> None:
        store = self.store
        due = await store.read(lambda c: checks.due(c, store, time.time(), DUE_BATCH))
        if not due:
            return
        gate = asyncio.Semaphore(self.section.concurrency)

        async def one(check: checks.Check) -> None:
            async with gate:
                await self._ask(check)

        await asyncio.gather(*(one(check) for check in due))

    def _inquiry(self, check: checks.Check, control_number: int) -> Inquiry:
        request = check.request
        visit = self.section.visit_service_type
        service_types = tuple(dict.fromkeys([*self.section.service_types, visit]))
        return Inquiry(
            payer_name=request["payer_name"], payer_id=request["payer_id"] or request["payer_name"],
            member_id=request["member_id"], family=request["family"], given=request["given"],
            birth_date=dt.date.fromisoformat(request["birth_date"]), date_of_service=dt.date.fromisoformat(check.day),
            service_types=service_types, trace=f"LC{control_number:09d}", visit_service_type=visit,
        )  # fmt: skip

    async def _ask(self, check: checks.Check) -> None:
        store = self.store
        control_number = await store.write(checks.next_control_number)
        summary: EligibilitySummary | None = None
        error = ""
        try:
            summary = await asyncio.wait_for(self.source.check(self._inquiry(check, control_number), control_number),
                                             timeout=self.section.timeout_s + 5)  # fmt: skip
            if summary.retryable:
                summary, error = None, "payer_unable_to_respond"
        except Unavailable as exc:
            error = exc.code
        except asyncio.TimeoutError:
            error = "timeout"
        now = time.time()
        if summary is not None:
            def answered(conn: sqlite3.Connection) -> tuple[str, list[QueueEntry]]:
                state = checks.record_answer(conn, store, check, summary, control_number, now)
                view = DeskView.of(summary, _iso(now))
                return state, checks.apply_view(conn, store, check.patient_key, check.day, view)

            state, changed = await store.write(answered)
            log.info("eligibility answered", extra={"control_number": control_number, "status": state})
        else:
            attempts = check.attempts + 1
            retry_at = None
            if attempts < self.section.max_attempts:
                retry_at = now + min(self.section.retry_max_s, self.section.retry_base_s * 2 ** (attempts - 1))
            view = DeskView(state="not_verified", reason=_failure_words(error), checked_at=_iso(now),
                            retry_at=_iso(retry_at) if retry_at else "")  # fmt: skip

            def failed(conn: sqlite3.Connection) -> list[QueueEntry]:
                checks.record_failure(conn, check, error, control_number, retry_at, now)
                return checks.apply_view(conn, store, check.patient_key, check.day, view)

            changed = await store.write(failed)
            log.warning("eligibility not verified", extra={
                "control_number": control_number, "code": error, "attempt": attempts,
                "retry_in_s": round(retry_at - now, 1) if retry_at else None,
            })  # fmt: skip
        self._publish(changed)

    def _view(self, check: checks.Check) -> DeskView:
        if check.summary is not None and check.state in ("verified", "inactive"):
            return DeskView.of(check.summary, _iso(check.answered_at or time.time()))
        if check.state == "not_verified":
            return DeskView(state="not_verified", reason=_failure_words(check.error), checked_at=_iso(check.checked_at or time.time()),
                            retry_at=_iso(check.next_attempt_at) if check.next_attempt_at else "")  # fmt: skip
        return DeskView(state="not_verified", reason=PENDING_REASON)

    def _publish(self, entries: list["QueueEntry"]) -> None:
        for entry in entries:
            self.events.staff.publish("arrival", json.loads(json.dumps(entry.as_dict(), default=str)))

    # --- the desk's details view -----------------------------------------------------------------

    async def summary_for(self, checkin_id: str) -> dict[str, Any] | None:
        """The full answer for an arrival's details view (staff only; the route audits it)."""
        store = self.store

        def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT patient_key, day FROM arrivals WHERE checkin_id = ?", (checkin_id,)).fetchone()
            if row is None:
                return None
            check = checks.get(conn, store, row["patient_key"], row["day"])
            if check is None:
                return {"state": "none"}
            return {
                "state": check.state, "attempts": check.attempts, "error": check.error,
                "checked_at": _iso(check.checked_at) if check.checked_at else None,
                "answered_at": _iso(check.answered_at) if check.answered_at else None,
                "control_number": check.control_number, "payer": check.request.get("payer_name", ""),
                "summary": _summary_json(check.summary) if check.summary else None,
            }  # fmt: skip

        return await store.read(read)


def _summary_json(summary: EligibilitySummary) -> JsonObject:
    data = summary.model_dump(mode="json")
    data["reason"] = summary.reason
    data["rejections"] = [{**r.model_dump(mode="json"), "reason": r.reason} for r in summary.rejections]
    return data


FAILURE_WORDS = {
    "timeout": "The clearinghouse did not answer in time",
    "payer_unable_to_respond": "The payer could not answer now",
    "payload_unreadable": "The answer could not be read",
    "envelope_unreadable": "The answer could not be read",
    "soap_fault": "The clearinghouse refused the request",
}


def _failure_words(code: str) -> str:
    if code in FAILURE_WORDS:
        return FAILURE_WORDS[code]
    if code.startswith("http_") or code.startswith("transport_"):
        return "The clearinghouse could not be reached"
    return "Not verified yet" if not code else "The clearinghouse refused the request"


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")
