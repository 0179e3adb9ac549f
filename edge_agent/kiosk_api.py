"""The kiosk API: lookup, check-in, heartbeat, help, and the public lobby board.

Bodies are the models of lobby_core/contract.py. Every kiosk route needs `Authorization: Bearer
<kiosk token>`; the board is public (tickets only).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from lobby_core import reminder

from . import arrivals, checkin, dependencies, details_review, matching
from lobby_core.appointments import ScheduledAppointment
from .auth import require_same_kiosk
from .config import SiteConfig
from .consents.due import forms_due
from lobby_core.contract import (
    AppointmentMatch, CheckinRequest, Heartbeat, HelpRequest, LookupRequest, LookupResponse, OnFileHints,
)  # fmt: skip
from .dependencies import (
    CertificatesDep, ConfigDep, ConsentLibraryDep, EventsDep, KioskId, LiveQueueDep, LookupLimiterDep, MetricsDep,
    ScheduleDep, StoreDep,
)  # fmt: skip
from .events import sse_response
from .json_types import JsonObject
from .problems import ProblemError, invalid_input
from .ratelimit import RateLimiter, kiosk_bucket
from .schedule import ScheduleCache

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")
CHECKINS_PATH = "/api/v1/checkins"
MAX_CHECKIN_BYTES = 8_000_000  # signatures are the bulk: a check-in with several forms is well below
JSON = "application/json"


@router.post("/lookup", response_model=LookupResponse)
async def lookup(
    body: LookupRequest, kiosk_id: KioskId, limiter: LookupLimiterDep, metrics: MetricsDep, schedule: ScheduleDep,
    store: StoreDep, consent_library: ConsentLibraryDep, config: ConfigDep,
) -> LookupResponse:  # fmt: skip
    wait_s = limiter.take(kiosk_bucket(kiosk_id))
    if wait_s:
        metrics.lookups.labels(outcome="rate_limited").inc()
        log.warning("lookup rate limited", extra={"kiosk_id": kiosk_id})
        raise ProblemError(
            429, "rate_limited", "Too many lookups from this kiosk; please ask at the front desk.",
            headers={"Retry-After": RateLimiter.retry_after_header(wait_s)},
        )  # fmt: skip
    reminded = _reminded_appointment(config, body.reminder_token, kiosk_id) if body.reminder_token else None
    if body.family:
        matches = schedule.find(body.family, body.given, body.birth_date)
        if reminded:
            matches = [a for a in matches if a.appointment_id == reminded] or matches
    else:
        matches = _reminded_matches(schedule, reminded, body.birth_date) if reminded else []
    patients = {appointment.patient_id for appointment in matches}
    outcome: Literal["matched", "none", "ambiguous"] = "matched" if len(patients) == 1 else "none" if not patients else "ambiguous"
    metrics.lookups.labels(outcome=outcome).inc()
    log.info("lookup", extra={"kiosk_id": kiosk_id, "outcome": outcome})
    if outcome != "matched":
        return LookupResponse(outcome=outcome)
    appointment = _next_of(matches)
    patient_key = matching.patient_key(store.key, appointment.family, appointment.given, appointment.birth_date)
    # In a thread, the store read and the documents together: the library may re-read its folder.
    forms = await asyncio.to_thread(
        forms_due, store, consent_library, patient_key, new_patient=appointment.new_patient,
        birth_date=appointment.birth_date, today=schedule.today(), central=lambda: appointment.central_consents,
    )  # fmt: skip
    hints = matching.on_file_hints(appointment.demographics, appointment.coverage)
    digest, every_days = details_review.hints_digest(store.key, hints), config.kiosk.review_details_every_days
    review_due = await store.read(
        lambda conn: details_review.review_due(conn, patient_key, schedule.today(), every_days, digest)
    )
    # Not due: no hints, and the kiosk skips "Is this still right?".
    on_file = hints if review_due else OnFileHints()
    return LookupResponse(
        outcome="matched",
        appointment=AppointmentMatch(
            appointment_id=appointment.appointment_id, start=appointment.start, clinician=appointment.clinician,
            location=appointment.location, display_name=matching.display_name(appointment.family, appointment.given),
            new_patient=appointment.new_patient,
            on_file=on_file, forms_due=forms,
            preferred_language=appointment.preferred_language,
        ),  # fmt: skip
    )


def _reminded_appointment(config: SiteConfig, token: str, kiosk_id: str) -> str | None:
    """The appointment a valid reminder QR names. It only picks among the identity's own matches:
    a reminder identifies nobody by itself. Invalid ones are ignored (and logged)."""
    try:
        found = reminder.verify(config.kiosk.reminder_public_key, token, site=config.site.id)
    except reminder.ReminderError as exc:
        log.warning("reminder code refused", extra={"kiosk_id": kiosk_id, "reason": exc.key})
        return None
    return found.appointment


def _reminded_matches(schedule: ScheduleCache, reminded: str, birth_date: dt.date) -> list[ScheduledAppointment]:
    """A reminder + birth date lookup (no name): today's reminded appointment, if the birth date is its patient's."""
    if schedule.day != schedule.today():
        return []
    return [
        a
        for a in schedule.appointments
        if matching.reminder_matches(birth_date, reminded_appointment_id=reminded, appointment_id=a.appointment_id,
                                     scheduled_birth_date=a.birth_date)  # fmt: skip
    ]


def _next_of(matches: list[ScheduledAppointment]) -> ScheduledAppointment:
    """One patient with several appointments today: the first that has not started over an hour ago."""
    now = dt.datetime.now(dt.UTC)
    upcoming = [a for a in matches if a.start >= now - dt.timedelta(hours=1)]
    return min(upcoming or matches, key=lambda a: a.start)


async def create_checkin(request: Request) -> Response:
    """POST /api/v1/checkins. The hot path: a plain Starlette route (see `install`, no FastAPI
    dependency solving: it awaits the dependency functions itself), body parsed by hand after the token
    and the Idempotency-Key are checked. Errors still become Problem bodies through the app's exception
    handlers."""
    started = time.perf_counter()
    kiosk_auth = await dependencies.get_kiosk_auth(request)
    metrics = await dependencies.get_metrics(request)
    kiosk_id = await kiosk_auth.authenticate(request.headers.get("authorization", ""))
    try:
        key = request.headers.get("idempotency-key", "").strip()
        if not key or len(key) > 200:
            raise ProblemError(400, "idempotency_key_required", "Send an Idempotency-Key header (at most 200 characters).")
        if (probe := await dependencies.get_write_probe(request)) is not None and probe.disk_full:
            raise checkin.store_unavailable()  # no write attempted on a full disk: the kiosk spools it
        raw = await _body_within(request, MAX_CHECKIN_BYTES)
        try:
            body = CheckinRequest.model_validate_json(raw)
        except ValidationError as exc:
            raise invalid_input(exc.errors())
        config = await dependencies.get_config(request)
        outcome = await checkin.submit(
            body, kiosk_id=kiosk_id, idempotency_key=key, store=await dependencies.get_store(request),
            schedule=await dependencies.get_schedule(request),
            consent_library=await dependencies.get_consent_library(request), site=config.site,
            limiter=await dependencies.get_lookup_limiter(request),
            reminded_appointment_id=_reminded_appointment(config, body.reminder_token, kiosk_id) if body.reminder_token else None,
        )  # fmt: skip
    except ProblemError as problem:
        metrics.checkins_refused.labels(error=problem.problem.error).inc()
        log.info("checkin refused", extra={"kiosk_id": kiosk_id, "code": problem.problem.error})
        raise
    if isinstance(outcome, checkin.Replayed):
        return Response(outcome.body, status_code=200, media_type=JSON, headers={"Idempotent-Replayed": "true"})
    if isinstance(outcome, checkin.AlreadyArrived):  # the visit's existing ticket; nothing new stored
        if outcome.entry is not None:  # a spooled check-in merged into it: the desk sees the new flag
            (await dependencies.get_live_queue(request)).publish_arrival(outcome.entry)
        metrics.visits_repeated.labels(outcome="existing_ticket" if outcome.entry is None else "merged").inc()
        log.info("checkin of an arrived visit", extra={"kiosk_id": kiosk_id, "code": "already_checked_in"})
        return Response(outcome.body, status_code=200, media_type=JSON)
    metrics.checkins.inc()
    metrics.checkin_duration.observe(time.perf_counter() - started)
    (await dependencies.get_live_queue(request)).publish_arrival(outcome.entry)
    eligibility = await dependencies.get_eligibility(request)
    if eligibility is not None:  # in the background, after the commit: never delays the check-in
        eligibility.after_checkin(outcome.entry.checkin_id)
    log.info("checkin accepted", extra={
        "checkin_id": outcome.entry.checkin_id, "ticket": outcome.entry.ticket, "kiosk_id": kiosk_id,
    })  # fmt: skip
    return Response(outcome.body, status_code=201, media_type=JSON)


async def _body_within(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, "body_too_large", f"The request body exceeds {limit // 1_000_000} MB.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError(413, "body_too_large", f"The request body exceeds {limit // 1_000_000} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/kiosks/heartbeat", status_code=204)
async def heartbeat(
    body: Heartbeat, kiosk_id: KioskId, store: StoreDep, events: EventsDep, certificates: CertificatesDep
) -> Response:
    require_same_kiosk(body.kiosk_id, kiosk_id)
    now = arrivals.now_iso()
    await store.write(
        lambda c: c.execute(
            "UPDATE kiosks SET last_seen_at = ?, heartbeat = ? WHERE kiosk_id = ?",
            (now, body.model_dump_json(), body.kiosk_id),
        )
    )
    events.staff.publish("kiosk", {"kiosk_id": body.kiosk_id, "at": now, **body.model_dump(mode="json")})
    return Response(status_code=204, headers=certificates.heartbeat_headers() if certificates else None)


@router.post("/help", status_code=202)
async def help_request(body: HelpRequest, kiosk_id: KioskId, store: StoreDep, events: EventsDep) -> Response:
    require_same_kiosk(body.kiosk_id, kiosk_id)
    now = arrivals.now_iso()
    await store.write(lambda c: store.set_meta(c, f"help:{body.kiosk_id}", now))
    events.staff.publish("help", {"at": now, **body.model_dump(mode="json")})
    log.info("help requested", extra={"kiosk_id": kiosk_id, "screen": body.screen})
    return Response(status_code=202)


@router.get("/board")
async def board(live_queue: LiveQueueDep) -> Response:
    state = await live_queue.board()
    return Response(state.model_dump_json(), media_type=JSON, headers={"Cache-Control": "no-store"})


@router.get("/board/events")
async def board_events(request: Request, live_queue: LiveQueueDep, events: EventsDep) -> Response:
    async def current_board() -> tuple[str, JsonObject]:
        return "board", (await live_queue.board()).model_dump(mode="json")

    return sse_response(events.board, request, snapshot=current_board)


def install(app: FastAPI) -> None:
    """The kiosk routes, check-ins first: routes are matched in order, and check-ins are the hot path."""
    app.add_route(CHECKINS_PATH, create_checkin, methods=["POST"], name="create_checkin")
    app.include_router(router)
