"""Staff routes for signed consents: a check-in's list of consents and the sealed PDF (every view audited)."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response

from ..dependencies import ConfigDep, StoreDep
from ..desk import audit
from ..json_types import JsonObject
from ..desk.auth import StaffSession, require_staff
from .records import ConsentPurged, sealed_pdf

router = APIRouter(prefix="/api/v1")
Staff = Annotated[StaffSession, Depends(require_staff)]


@router.get("/checkins/{checkin_id}/consents")
async def checkin_consents(checkin_id: str, staff: Staff, store: StoreDep) -> JsonObject:
    """What the patient signed or declined at this check-in (no patient details), with links to the PDFs."""

    def query(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return conn.execute(
            "SELECT consent_id, document_id, version, language, decision, signed_at, kiosk_id FROM consents"
            " WHERE checkin_id = ? ORDER BY document_id",
            (checkin_id,),
        ).fetchall()

    rows = await store.read(query)
    return {
        "checkin_id": checkin_id,
        "consents": [{**dict(row), "pdf_url": f"/api/v1/consents/{row['consent_id']}/pdf"} for row in rows],
    }


@router.get("/consents/{consent_id}/pdf")
async def consent_pdf(consent_id: str, staff: Staff, store: StoreDep, config: ConfigDep) -> Response:
    """The sealed PDF exactly as stored; `edge-agent verify-consent` checks a downloaded copy."""
    try:
        pdf = await asyncio.to_thread(sealed_pdf, store, consent_id, config.translations_dir)
    except ConsentPurged:
        raise HTTPException(410, "purged here after delivery and retention; the central system holds this PDF")
    if pdf is None:
        raise HTTPException(404, "no such consent")
    await audit.log(store, staff.username, "consent.pdf_viewed", consent_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="consent-{consent_id}.pdf"', "Cache-Control": "no-store"},
    )
