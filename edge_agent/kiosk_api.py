"""The kiosk API: lookup, check-in, heartbeat, help, and the public lobby board.

Bodies are the models of lobby_core/contract.py. Every kiosk route needs `Authorization: Bearer
<kiosk token>`; the board is public (tickets only).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from lobby_core import reminder

from . import checkin, matching
from lobby_core.appointments import ScheduledAppointment
from .auth import require_kiosk, require_same_kiosk
from .consents.due import forms_due_async
from lobby_core.contract import AppointmentMatch, CheckinRequest, Heartbeat, HelpRequest, LookupRequest, LookupResponse
from .events import sse_response
from .problems import ProblemError, invalid_input
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from .app import Agent

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")
CHECKINS_PATH = "/api/v1/checkins"
MAX_CHECKIN_BYTES = 8_000_000  # signatures are the bulk: a check-in with several forms is well below
JSON = "application/json"


def _agent(request: Request) -> "Agent":
    return request.app.state.agent


@router.post("/lookup", response_model=LookupResponse)
async def lookup(body: LookupRequest, request: Request, kiosk_id: str = Depends(require_kiosk)) -> LookupResponse:
    agent = _agent(request)
    wait_s = agent.lookup_limiter.take(kiosk_id)
    if wait_s:
        agent.metrics.lookups.labels(outcome="rate_limited").inc()
        log.warning("lookup rate limited", extra={"kiosk_id": kiosk_id})
        raise ProblemError(
            429, "rate_limited", "Too many lookups from this kiosk; please ask at the front desk.",
            headers={"Retry-After": RateLimiter.retry_after_header(wait_s)},
        )  # fmt: skip
    matches = agent.schedule.find(body.family, body.given, body.birth_date)
    if body.reminder_token and (reminded := _reminded_appointment(agent, body.reminder_token, kiosk_id)):
        matches = [a for a in matches if a.appointment_id == reminded] or matches
    patients = {appointment.patient_id for appointment in matches}
    outcome = "matched" if len(patients) == 1 else "none" if not patients else "ambiguous"
    agent.metrics.lookups.labels(outcome=outcome).inc()
    log.info("lookup", extra={"kiosk_id": kiosk_id, "outcome": outcome})
    if outcome != "matched":
        return LookupResponse(outcome=outcome)
    appointment = _next_of(matches)
    patient_key = matching.patient_key(
        agent.store.key, appointment.family, appointment.given, appointment.birth_date
    )
    forms = await forms_due_async(
        agent.store, agent.consent_library, patient_key, new_patient=appointment.new_patient,
        birth_date=appointment.birth_date, today=agent.schedule.today(),
        central=lambda: appointment.central_consents,
    )  # fmt: skip
    return LookupResponse(
        outcome="matched",
        appointment=AppointmentMatch(
            appointment_id=appointment.appointment_id, start=appointment.start, clinician=appointment.clinician,
            location=appointment.location, display_name=matching.display_name(appointment.family, appointment.given),
            new_patient=appointment.new_patient, on_file=appointment.demographics,
            coverage_on_file=appointment.coverage, forms_due=forms,
        ),  # fmt: skip
    )


def _reminded_appointment(agent: "Agent", token: str, kiosk_id: str) -> str | None:
    """The appointment a valid reminder QR names. It only picks among the identity's own matches:
    a reminder identifies nobody by itself. Invalid ones are ignored (and logged)."""
    try:
        found = reminder.verify(agent.config.kiosk.reminder_public_key, token, site=agent.config.site.id)
    except reminder.ReminderError as exc:
        log.warning("reminder code refused", extra={"kiosk_id": kiosk_id, "reason": exc.key})
        return None
    return found.appointment


def _next_of(matches: list[ScheduledAppointment]) -> ScheduledAppointment:
    """One patient with several appointments today: the first that has not started over an hour ago."""
    now = dt.datetime.now(dt.UTC)
    upcoming = [a for a in matches if a.start >= now - dt.timedelta(hours=1)]
    return min(upcoming or matches, key=lambda a: a.start)


async def create_checkin(request: Request) -> Response:
    """POST /api/v1/checkins. The hot path: a plain Starlette route (see `install`, no FastAPI
    dependency solving), body parsed by hand after the token and the Idempotency-Key are checked.
    Errors still become Problem bodies through the app's exception handlers."""
    started = time.perf_counter()
    agent = _agent(request)
    kiosk_id = agent.kiosk_auth.authenticate(request)
    try:
        key = request.headers.get("idempotency-key", "").strip()
        if not key or len(key) > 200:
            raise ProblemError(400, "idempotency_key_required", "Send an Idempotency-Key header (at most 200 characters).")
        raw = await _body_within(request, MAX_CHECKIN_BYTES)
        try:
            body = CheckinRequest.model_validate_json(raw)
        except ValidationError as exc:
            raise invalid_input(exc.errors())
        outcome = await checkin.submit(agent, kiosk_id, key, body)
    except ProblemError as problem:
        agent.metrics.checkins_refused.labels(error=problem.problem.error).inc()
        log.info("checkin refused", extra={"kiosk_id": kiosk_id, "code": problem.problem.error})
        raise
    if outcome.replayed:
        return Response(outcome.body, status_code=200, media_type=JSON, headers={"Idempotent-Replayed": "true"})
    agent.metrics.checkins.inc()
    agent.metrics.checkin_duration.observe(time.perf_counter() - started)
    agent.publish_arrival(outcome.entry)
    if agent.eligibility is not None:  # in the background, after the commit: never delays the check-in
        agent.eligibility.after_checkin(outcome.entry.checkin_id)
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
async def heartbeat(body: Heartbeat, request: Request, kiosk_id: str = Depends(require_kiosk)) -> Response:
    require_same_kiosk(body.kiosk_id, kiosk_id)
    await _agent(request).record_heartbeat(body)
    return Response(status_code=204)


@router.post("/help", status_code=202)
async def help_request(body: HelpRequest, request: Request, kiosk_id: str = Depends(require_kiosk)) -> Response:
    require_same_kiosk(body.kiosk_id, kiosk_id)
    await _agent(request).raise_help(body)
    log.info("help requested", extra={"kiosk_id": kiosk_id, "screen": body.screen})
    return Response(status_code=202)


@router.get("/board")
async def board(request: Request) -> Response:
    state = await _agent(request).board_state()
    return Response(state.model_dump_json(), media_type=JSON, headers={"Cache-Control": "no-store"})


@router.get("/board/events")
async def board_events(request: Request) -> Response:
    agent = _agent(request)

    async def current_board() -> tuple[str, dict]:
        return "board", (await agent.board_state()).model_dump(mode="json")

    return sse_response(agent.events.board, request, snapshot=current_board)


def install(app: FastAPI) -> None:
    """The kiosk routes, check-ins first: routes are matched in order, and check-ins are the hot path."""
    app.add_route(CHECKINS_PATH, create_checkin, methods=["POST"], name="create_checkin")
    app.include_router(router)
