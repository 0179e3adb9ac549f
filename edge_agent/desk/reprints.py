"""Reprint requests: the desk asks for a ticket or label to be printed again on a chosen kiosk printer.

The desk stores a request (and publishes a `reprint` staff event); the kiosk that drives the printer
collects its pending requests with its own token and reports each one done. Requests carry the
ticket number and the check-in id, never patient details.

    GET  /api/v1/kiosks/{kiosk_id}/reprints              (kiosk token) -> {"reprints": [...]}
    POST /api/v1/kiosks/{kiosk_id}/reprints/{id}/done    (kiosk token) -> 204
"""

from __future__ import annotations

import sqlite3
import time
from typing import TypedDict

from fastapi import APIRouter, HTTPException, Response

from ..dependencies import EventsDep, KioskId, StoreDep
from ..json_types import JsonObject
from . import audit

router = APIRouter(prefix="/api/v1/kiosks")


class PendingReprint(TypedDict):
    """A request as the kiosk collects it."""

    request_id: int
    checkin_id: str
    ticket: str
    kind: str
    printer: str


class ReprintRequest(PendingReprint):
    """A request as the desk's `reprint` event announces it."""

    kiosk_id: str


def add(conn: sqlite3.Connection, *, checkin_id: str, ticket: str, kind: str, kiosk_id: str, printer: str,
        requested_by: str) -> ReprintRequest:  # fmt: skip
    """Store a request (inside the caller's write, audited with it); returns it as the kiosk will see it."""
    request_id: int = conn.execute(
        "INSERT INTO reprint_requests(checkin_id, kind, kiosk_id, printer, requested_by, requested_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (checkin_id, kind, kiosk_id, printer, requested_by, time.time()),
    ).fetchone()[0]
    audit.record(conn, requested_by, f"reprint.{kind}", checkin_id,
                 {"kiosk_id": kiosk_id, "printer": printer, "request": request_id})
    return {"request_id": request_id, "checkin_id": checkin_id, "ticket": ticket, "kind": kind,
            "kiosk_id": kiosk_id, "printer": printer}  # fmt: skip


def _own_kiosk(request_kiosk: str, path_kiosk: str) -> None:
    if request_kiosk != path_kiosk:
        raise HTTPException(403, "a kiosk collects only its own reprints")


@router.get("/{kiosk_id}/reprints")
async def pending(kiosk_id: str, kiosk: KioskId, store: StoreDep) -> JsonObject:
    _own_kiosk(kiosk, kiosk_id)

    def query(conn: sqlite3.Connection) -> list[PendingReprint]:
        rows = conn.execute(
            "SELECT r.id, r.checkin_id, a.ticket, r.kind, r.printer FROM reprint_requests r"
            " JOIN arrivals a USING (checkin_id) WHERE r.kiosk_id = ? AND r.picked_up_at IS NULL ORDER BY r.id",
            (kiosk_id,),
        ).fetchall()
        return [{"request_id": r["id"], "checkin_id": r["checkin_id"], "ticket": r["ticket"], "kind": r["kind"],
                 "printer": r["printer"]} for r in rows]  # fmt: skip

    return {"reprints": await store.read(query)}


@router.post("/{kiosk_id}/reprints/{request_id}/done", status_code=204)
async def done(kiosk_id: str, request_id: int, kiosk: KioskId, store: StoreDep, events: EventsDep) -> Response:
    _own_kiosk(kiosk, kiosk_id)

    def work(conn: sqlite3.Connection) -> bool:
        return conn.execute(
            "UPDATE reprint_requests SET picked_up_at = ? WHERE id = ? AND kiosk_id = ? AND picked_up_at IS NULL",
            (time.time(), request_id, kiosk_id),
        ).rowcount == 1

    if not await store.write(work):
        raise HTTPException(404, "no such pending reprint")
    events.staff.publish("reprint", {"request_id": request_id, "kiosk_id": kiosk_id, "done": True})
    return Response(status_code=204)
