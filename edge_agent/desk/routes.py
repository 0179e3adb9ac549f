"""The staff API behind the dashboard: the live queue, actions, devices, sync, statistics, audit.

Every route needs a staff session (401 without; 403 on a change without the CSRF token); retry,
discard and the exports need an admin. Every action and every view of a patient's details is audited,
in the same transaction as the change where there is one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Annotated, AsyncIterator, Callable, Literal, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from .. import arrivals, insurance_cards, patient_updates
from ..config import SiteConfig
from ..dependencies import ConfigDep, EligibilityDep, EventsDep, LiveQueueDep, StoreDep, SyncDep
from ..events import Channel, EventBus
from ..json_types import JsonObject
from ..live_queue import LiveQueue
from ..store import Store
from ..sync import SyncWorker
from . import audit, dead_letters, devices, reprints, stats
from .auth import StaffAuth, StaffAuthDep, StaffSession, require_admin, require_staff

router = APIRouter(prefix="/api/v1")
Staff = Annotated[StaffSession, Depends(require_staff)]
Admin = Annotated[StaffSession, Depends(require_admin)]
RoomName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
CHANGE_FLAGS = {"insurance": "insurance_changed", "demographics": "demographics_changed"}
SESSION_CHECK_S = 15.0
STATUS_CHANGES: dict[str, Callable[..., arrivals.Transition]] = {
    "call": arrivals.call, "room": arrivals.room, "complete": arrivals.complete, "no_show": arrivals.no_show,
}  # fmt: skip
P = ParamSpec("P")
T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoomBody(Body):
    room: RoomName | None = None


class ReprintBody(Body):
    kind: Literal["ticket", "label"]
    kiosk_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    printer: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PingBody(Body):
    nonce: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class DiscardBody(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


def today(config: SiteConfig) -> str:
    return arrivals.site_day(config.site.timezone)


def _entry_json(entry: arrivals.QueueEntry) -> JsonObject:
    data: JsonObject = json.loads(json.dumps(entry.as_dict(), default=str))
    return data


# --- the queue ----------------------------------------------------------------------------------


@router.get("/queue")
async def queue(staff: Staff, store: StoreDep, events: EventsDep, config: ConfigDep) -> JsonObject:
    """The day's arrivals (every status), and the staff channel's event id to resume the stream from."""
    last_event_id = events.staff.last_id  # before the read: a later event is at worst applied twice
    day = today(config)
    all_statuses = ("waiting", "called", "roomed", "done", "no_show")
    entries = await store.read(lambda c: arrivals.queue_entries(c, store, day, all_statuses))
    await audit.log(store, staff.username, "queue.view", day, {"arrivals": len(entries)})
    return {"day": day, "last_event_id": str(last_event_id), "entries": [_entry_json(e) for e in entries]}


@router.get("/queue/events")
async def queue_events(
    request: Request, staff: Staff, auth: StaffAuthDep, store: StoreDep, events: EventsDep, config: ConfigDep,
    since: str | None = None,
) -> StreamingResponse:  # fmt: skip
    """Server-sent events of the staff channel; resumes after Last-Event-ID (or ?since= on first connect).

    The stream ends when the session does (sign-out, idle timeout); the page then goes to sign-in.
    """
    await audit.log(store, staff.username, "queue.stream", today(config))
    last_event_id = request.headers.get("last-event-id") or since
    return StreamingResponse(
        _staff_frames(events.staff, last_event_id, auth, staff),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _staff_frames(
    channel: Channel, last_event_id: str | None, auth: StaffAuth, staff: StaffSession
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    checked_at = loop.time()
    yield b"retry: 2000\n\n"
    async for event in channel.stream(last_event_id):
        if event is not None:
            yield event.encode()
        if loop.time() - checked_at >= SESSION_CHECK_S:
            checked_at = loop.time()
            if await auth.session_for(staff.token, touch=False) is None:
                yield b"event: signed_out\ndata: {}\n\n"
                return
        if event is None:
            yield b": keep-alive\n\n"


@router.get("/queue/{checkin_id}")
async def arrival_details(checkin_id: str, staff: Staff, store: StoreDep) -> JsonObject:
    """One arrival with the patient's details: a view that is always audited."""
    entry = await store.read(lambda c: _known(arrivals.queue_entry, c, store, checkin_id))
    await audit.log(store, staff.username, "patient.view", checkin_id)
    return _entry_json(entry)


@router.get("/queue/{checkin_id}/eligibility")
async def arrival_eligibility(checkin_id: str, staff: Staff, store: StoreDep, eligibility: EligibilityDep) -> JsonObject:
    """The full insurance eligibility answer for an arrival (edge_agent/eligibility/): an audited view."""
    if eligibility is None:
        return {"state": "not_configured"}
    found = await eligibility.summary_for(checkin_id)
    if found is None:
        raise HTTPException(404, "no such arrival")
    await audit.log(store, staff.username, "eligibility.view", checkin_id)
    return found


NO_CACHE = {"Cache-Control": "no-store, private", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"}


async def _card(store: Store, checkin_id: str) -> "insurance_cards.StoredCard":
    await store.read(lambda c: _known(arrivals.queue_entry, c, store, checkin_id))  # 404 for no such arrival
    card = await asyncio.to_thread(insurance_cards.load_card, store, checkin_id)
    if card is None:
        raise HTTPException(404, "no insurance card for this arrival")
    return card


@router.get("/queue/{checkin_id}/insurance-card")
async def arrival_insurance_card(checkin_id: str, staff: Staff, store: StoreDep) -> Response:
    """The scanned card's fields as the patient confirmed them (needs_review: read with low
    confidence; corrected: typed over what was read) and its sides' image URLs: an audited view."""
    card = await _card(store, checkin_id)
    await audit.log(store, staff.username, "insurance_card.view", checkin_id)
    body = {
        "fields": {name: reading.model_dump(mode="json") for name, reading in card.fields.items()},
        "images": {side: f"/api/v1/queue/{checkin_id}/insurance-card/{side}.jpg"
                   for side, data in (("front", card.front_jpeg), ("back", card.back_jpeg)) if data is not None},
        "sizes": {"front": card.front_size, "back": card.back_size},
    }  # fmt: skip
    return Response(json.dumps(body), media_type="application/json", headers=NO_CACHE)


@router.get("/queue/{checkin_id}/insurance-card/{side}.jpg")
async def arrival_insurance_card_image(checkin_id: str, side: Literal["front", "back"], staff: Staff, store: StoreDep) -> Response:
    """One side of the scanned card: every view is audited, and nothing may keep a copy (no-store)."""
    card = await _card(store, checkin_id)
    data = card.front_jpeg if side == "front" else card.back_jpeg
    if data is None:
        raise HTTPException(404, "this card has no back side")
    await audit.log(store, staff.username, f"insurance_card.{side}_image", checkin_id)
    return Response(data, media_type="image/jpeg", headers=NO_CACHE)


def _known(read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return read(*args, **kwargs)
    except arrivals.UnknownArrival:
        raise HTTPException(404, "no such arrival")


async def _transition(
    store: Store, live_queue: LiveQueue, staff: StaffSession, action: str, checkin_id: str, **kwargs: str | None
) -> JsonObject:  # fmt: skip
    change_status = STATUS_CHANGES[action]

    def work(conn: sqlite3.Connection) -> arrivals.Transition:
        change = change_status(conn, checkin_id, **kwargs)
        audit.record(conn, staff.username, f"arrival.{action}", checkin_id,
                     {"from": change.from_status, "to": change.to_status, "room": change.room})
        return change

    try:
        change = await store.write(work)
    except arrivals.UnknownArrival:
        raise HTTPException(404, "no such arrival")
    except arrivals.InvalidTransition as exc:
        raise HTTPException(409, str(exc))
    live_queue.publish_transition(change)
    return {"checkin_id": change.checkin_id, "ticket": change.ticket, "status": change.to_status, "room": change.room}


@router.post("/queue/{checkin_id}/call")
async def call(
    checkin_id: str, staff: Staff, store: StoreDep, live_queue: LiveQueueDep, body: RoomBody | None = None
) -> JsonObject:  # fmt: skip
    return await _transition(store, live_queue, staff, "call", checkin_id, room=body.room if body else None)


@router.post("/queue/{checkin_id}/room")
async def room(
    checkin_id: str, staff: Staff, store: StoreDep, live_queue: LiveQueueDep, body: RoomBody | None = None
) -> JsonObject:  # fmt: skip
    return await _transition(store, live_queue, staff, "room", checkin_id, room=body.room if body else None)


@router.post("/queue/{checkin_id}/complete")
async def complete(checkin_id: str, staff: Staff, store: StoreDep, live_queue: LiveQueueDep) -> JsonObject:
    return await _transition(store, live_queue, staff, "complete", checkin_id)


@router.post("/queue/{checkin_id}/no-show")
async def no_show(checkin_id: str, staff: Staff, store: StoreDep, live_queue: LiveQueueDep) -> JsonObject:
    return await _transition(store, live_queue, staff, "no_show", checkin_id)


@router.post("/queue/undo")
async def undo(staff: Staff, store: StoreDep, live_queue: LiveQueueDep, events: EventsDep, config: ConfigDep) -> JsonObject:
    day = today(config)

    def work(conn: sqlite3.Connection) -> arrivals.Transition | None:
        change = arrivals.undo_last(conn, day)
        if change is not None:
            audit.record(conn, staff.username, "arrival.undo", change.checkin_id,
                         {"from": change.from_status, "to": change.to_status})
        return change

    try:
        change = await store.write(work)
    except arrivals.InvalidTransition as exc:
        raise HTTPException(409, str(exc))
    if change is None:
        raise HTTPException(409, "nothing to undo")
    live_queue.publish_transition(change)
    # An undo restores earlier timestamps too: give the dashboards the whole restored arrival.
    restored = await store.read(lambda c: arrivals.queue_entry(c, store, change.checkin_id))
    events.staff.publish("arrival", _entry_json(restored))
    return {"checkin_id": change.checkin_id, "ticket": change.ticket, "status": change.to_status, "room": change.room}


async def _clear_flag(
    store: Store, events: EventBus, staff: StaffSession, checkin_id: str, flag: str, action: str,
    follow_up: Callable[[sqlite3.Connection], JsonObject] | None = None,
) -> JsonObject:  # fmt: skip
    """Clear one flag of an arrival (audited with `action`) and publish the arrival's new state.

    `follow_up` runs in the same transaction; what it returns goes into the audit entry and the answer."""
    outcome: JsonObject = {}

    def work(conn: sqlite3.Connection) -> arrivals.QueueEntry:
        row = conn.execute("SELECT flags FROM arrivals WHERE checkin_id = ?", (checkin_id,)).fetchone()
        if row is None:
            raise HTTPException(404, "no such arrival")
        flags = json.loads(row["flags"])
        if flag not in flags:
            raise HTTPException(409, f"this arrival has no {flag.replace('_', ' ')} flag")
        flags.remove(flag)
        conn.execute("UPDATE arrivals SET flags = ? WHERE checkin_id = ?", (json.dumps(flags), checkin_id))
        outcome.update(follow_up(conn) if follow_up else {})
        audit.record(conn, staff.username, action, checkin_id, outcome or None)
        return arrivals.queue_entry(conn, store, checkin_id)

    entry = await store.write(work)
    data = _entry_json(entry)
    events.staff.publish("arrival", data)
    return {**data, **outcome}


@router.post("/queue/{checkin_id}/changes/{kind}/{decision}")
async def decide_change(
    checkin_id: str, kind: Literal["insurance", "demographics"], decision: Literal["accept", "dismiss"],
    staff: Staff, store: StoreDep, events: EventsDep,
) -> JsonObject:  # fmt: skip
    """Accept or dismiss a demographic / insurance change the kiosk read from an ID or card. An accepted
    demographics change is queued for the central Patient (`central_update` in the answer says whether)."""

    def send_to_central(conn: sqlite3.Connection) -> JsonObject:
        return {"central_update": patient_updates.enqueue_accepted_demographics(conn, store, checkin_id)}

    follow_up = send_to_central if (kind, decision) == ("demographics", "accept") else None
    return await _clear_flag(store, events, staff, checkin_id, CHANGE_FLAGS[kind], f"change.{kind}.{decision}", follow_up)


@router.post("/queue/{checkin_id}/reprint", status_code=202)
async def reprint(checkin_id: str, body: ReprintBody, staff: Staff, store: StoreDep, events: EventsDep) -> JsonObject:
    """Ask the kiosk that drives the chosen printer to print again: a stored request and a staff event."""

    def work(conn: sqlite3.Connection) -> JsonObject:
        row = conn.execute("SELECT ticket FROM arrivals WHERE checkin_id = ?", (checkin_id,)).fetchone()
        if row is None:
            raise HTTPException(404, "no such arrival")
        return dict(reprints.add(conn, checkin_id=checkin_id, ticket=row["ticket"], kind=body.kind, kiosk_id=body.kiosk_id,
                            printer=body.printer, requested_by=staff.username))

    reprint_request = await store.write(work)
    events.staff.publish("reprint", reprint_request)
    return reprint_request


# --- devices, sync, statistics, audit -----------------------------------------------------------


@router.get("/devices")
async def kiosk_devices(staff: Staff, store: StoreDep) -> JsonObject:
    kiosks = await store.read(devices.kiosk_statuses)
    return {"offline_after_s": devices.OFFLINE_AFTER_S, "kiosks": [k.as_json() for k in kiosks]}


@router.post("/kiosks/{kiosk_id}/help-handled")
async def help_handled(kiosk_id: str, staff: Staff, store: StoreDep, events: EventsDep) -> JsonObject:
    """Someone from the desk went to the kiosk whose patient asked for help."""

    def work(conn: sqlite3.Connection) -> bool:
        handled = devices.clear_help(conn, kiosk_id)
        if handled:
            audit.record(conn, staff.username, "help.handled", kiosk_id)
        return handled

    if not await store.write(work):
        raise HTTPException(409, "no open help request at this kiosk")
    events.staff.publish("help", {"kiosk_id": kiosk_id, "handled_by": staff.username})
    return {"kiosk_id": kiosk_id, "handled": True}


@router.get("/sync")
async def sync_panel(staff: Staff, store: StoreDep, sync: SyncDep, config: ConfigDep) -> JsonObject:
    outbox = await asyncio.to_thread(store.outbox_stats)
    letters = await store.read(dead_letters.dead_letters)
    return {
        "outbox_depth": outbox.pending,
        "oldest_pending_age_s": outbox.oldest_pending_age_s,
        "last_success_at": outbox.last_success_at,
        "central": central_state(config, sync),
        "dead_letters": [letter.as_json() for letter in letters],
    }


def central_state(config: SiteConfig, sync: SyncWorker) -> Literal["reachable", "unreachable", "unknown", "not_configured"]:
    if config.central.kind == "none":
        return "not_configured"
    reachable = sync.health.central_reachable
    return "unknown" if reachable is None else "reachable" if reachable else "unreachable"


@router.post("/sync/dead-letters/{outbox_id}/retry")
async def retry_dead_letter(outbox_id: int, admin: Admin, store: StoreDep, sync: SyncDep, events: EventsDep) -> JsonObject:
    try:
        await dead_letters.retry(store, outbox_id, admin.username)
    except dead_letters.NotADeadLetter:
        raise HTTPException(404, "no such dead letter")
    sync.notify()
    events.staff.publish("sync", {"outbox_id": outbox_id, "change": "retry"})
    return {"outbox_id": outbox_id, "status": "pending"}


@router.post("/sync/dead-letters/{outbox_id}/discard")
async def discard_dead_letter(
    outbox_id: int, body: DiscardBody, admin: Admin, store: StoreDep, events: EventsDep
) -> JsonObject:  # fmt: skip
    try:
        await store.write(lambda c: dead_letters.discard(c, outbox_id, admin.username, body.reason))
    except dead_letters.NotADeadLetter:
        raise HTTPException(404, "no such dead letter")
    events.staff.publish("sync", {"outbox_id": outbox_id, "change": "discard"})
    return {"outbox_id": outbox_id, "status": "discarded"}


@router.get("/stats")
async def day_stats(staff: Staff, store: StoreDep, config: ConfigDep) -> JsonObject:
    day = today(config)
    figures = await store.read(lambda c: stats.day_stats(c, day, config.site.timezone))
    return figures.as_json()


@router.get("/stats.csv")
async def day_stats_csv(admin: Admin, store: StoreDep, config: ConfigDep) -> Response:
    day = today(config)
    figures = await store.read(lambda c: stats.day_stats(c, day, config.site.timezone))
    await audit.log(store, admin.username, "stats.export", day)
    return _csv(stats.to_csv(figures), f"checkins-{day}.csv")


@router.get("/audit")
async def audit_log(admin: Admin, store: StoreDep, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> JsonObject:
    entries = await audit.entries(store, limit=limit)
    return {"entries": [entry.as_json() for entry in entries]}


@router.get("/audit.csv")
async def audit_csv(admin: Admin, store: StoreDep) -> Response:
    await audit.log(store, admin.username, "audit.export")
    return _csv(audit.to_csv(await audit.entries(store, limit=1_000_000)), "audit-log.csv")


def _csv(text: str, filename: str) -> Response:
    return Response(
        text, media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )  # fmt: skip


@router.post("/desk/ping", status_code=202)
async def ping(staff: Staff, body: PingBody, events: EventsDep) -> JsonObject:
    """Publish a trivial event on the staff channel: checks (and times) the live link to the dashboards."""
    events.staff.publish("ping", {"nonce": body.nonce})
    return {"nonce": body.nonce}


@router.get("/desk/session")
async def session_info(staff: Staff) -> JsonObject:
    return {"username": staff.username, "role": staff.role, "csrf_token": staff.csrf_token}
