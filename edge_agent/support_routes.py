"""Routes of remote support (edge_agent/support.py): the kiosk's long poll and result, the desk's admin API.

    GET  /api/v1/kiosk/commands?wait=25          kiosk token: its waiting commands (SupportCommands), held
                                                  open up to `wait` s until one is queued
    POST /api/v1/kiosk/commands/{id}/result      kiosk token: SupportResult (at most 4 MB); 204
    POST /api/v1/support/kiosks/{kiosk}/{action} admin: queue a command; 202 {"id": ...}
    GET  /api/v1/support/commands/{id}?wait=20   admin: its state, held open until it finished
    GET  /api/v1/support/commands/{id}/screenshot.png   admin: the attract-screen PNG (viewing is audited)

A kiosk is known only by its token, so it can neither collect nor answer another kiosk's commands.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from lobby_core.contract import MAX_SUPPORT_LOG_LINES, MAX_SUPPORT_RESULT_BYTES, SupportAction, SupportCommands, SupportResult

from . import support
from .dependencies import EventsDep, KioskId, ScheduleDep, StoreDep, SupportSignalsDep
from .desk import audit
from .desk.auth import StaffSession, require_admin
from .json_types import JsonObject
from .kiosk_api import _body_within
from .problems import ProblemError

router = APIRouter(prefix="/api/v1")
Admin = Annotated[StaffSession, Depends(require_admin)]
MAX_KIOSK_WAIT_S = 30.0
MAX_DESK_WAIT_S = 30.0
DB_RECHECK_S = 0.5  # commands queued by `edge-agent kiosk` (another process) are seen within this


@router.get("/kiosk/commands")
async def kiosk_commands(request: Request, kiosk_id: KioskId, store: StoreDep, signals: SupportSignalsDep,
                         wait: Annotated[float, Query(ge=0, le=MAX_KIOSK_WAIT_S)] = 0) -> Response:  # fmt: skip
    poll = signals.begin_poll(kiosk_id)
    event = signals.event(kiosk_id)
    deadline = time.monotonic() + wait
    none = _json(SupportCommands(commands=[]).model_dump_json())
    while True:
        event.clear()
        if not signals.is_current(kiosk_id, poll) or await request.is_disconnected():
            return none
        if await store.read(lambda c: support.has_waiting(c, kiosk_id)):
            commands = await store.write(lambda c: support.take_waiting(c, kiosk_id))
            if commands:
                return _json(SupportCommands(commands=commands).model_dump_json())
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return none
        try:
            await asyncio.wait_for(event.wait(), timeout=min(DB_RECHECK_S, remaining))
        except TimeoutError:
            pass


@router.post("/kiosk/commands/{command_id}/result", status_code=204)
async def kiosk_command_result(command_id: int, request: Request, kiosk_id: KioskId, store: StoreDep,
                               schedule: ScheduleDep, events: EventsDep) -> Response:  # fmt: skip
    raw = await _body_within(request, MAX_SUPPORT_RESULT_BYTES)
    result = SupportResult.model_validate_json(raw)  # a ValidationError becomes a 422 Problem
    log_filter = support.LogFilter.for_schedule(schedule.appointments)
    try:
        await store.write(lambda c: support.finish(c, kiosk_id, command_id, result, log_filter))
    except support.ResultRefused as refused:
        raise ProblemError(refused.status, refused.code, str(refused)) from None
    events.staff.publish("support", {"id": command_id, "kiosk_id": kiosk_id, "outcome": result.outcome})
    return Response(status_code=204)


class QueueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: Annotated[int, Field(ge=1, le=MAX_SUPPORT_LOG_LINES)] = 100


@router.post("/support/kiosks/{kiosk_id}/{action}", status_code=202)
async def queue_command(kiosk_id: str, action: SupportAction, admin: Admin, store: StoreDep,
                        signals: SupportSignalsDep, body: QueueBody | None = None) -> dict[str, int]:  # fmt: skip
    lines = body.lines if body else 100
    try:
        command_id = await store.write(lambda c: support.queue(c, kiosk_id, action, admin.username, lines=lines))
    except support.SupportError as exc:
        raise ProblemError(404, "no_such_kiosk", str(exc), field="kiosk_id") from None
    signals.notify(kiosk_id)
    return {"id": command_id}


@router.get("/support/commands/{command_id}")
async def command_state(command_id: int, request: Request, admin: Admin, store: StoreDep,
                        wait: Annotated[float, Query(ge=0, le=MAX_DESK_WAIT_S)] = 0) -> JsonObject:  # fmt: skip
    deadline = time.monotonic() + wait
    while True:
        await store.write(support.expire_overdue)
        current = await store.read(lambda c: support.state(c, command_id))
        if current is None:
            raise ProblemError(404, "no_such_command", "No such support command.")
        if current.finished or time.monotonic() >= deadline or await request.is_disconnected():
            return current.as_json()
        await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


@router.get("/support/commands/{command_id}/screenshot.png")
async def command_screenshot(command_id: int, admin: Admin, store: StoreDep) -> Response:
    current = await store.read(lambda c: support.state(c, command_id))
    png = await store.read(lambda c: support.screenshot(c, command_id)) if current else None
    if current is None or png is None:
        raise ProblemError(404, "no_screenshot", "This command has no screenshot.")
    await audit.log(store, admin.username, "support.screenshot.view", current.kiosk_id, {"command": command_id})
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _json(body: str) -> Response:
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


def install(app: FastAPI) -> None:
    app.include_router(router)
