"""Patients, appointments, forms and signatures the kiosk tests share."""

from __future__ import annotations

import datetime as dt
import hashlib

from lobby_core.contract import (
    AppointmentMatch,
    FormDue,
    LookupResponse,
    OnFileHints,
    PenPoint,
    Signature,
    Stroke,
)
from kiosk.devices.identity import Identity

TODAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
MARIA = Identity(
    source="aamva", family_name="GARCIA LOPEZ", given_names="MARIA", birth_date=dt.date(1956, 3, 14),
    address_street="12 NEW STREET", address_city="SPRINGFIELD", postal_code="62701",
)
CARD = Identity(source="smartcard", family_name="Garcia", given_names="Maria", birth_date=dt.date(1956, 3, 14),
                payor="Acme Health", member_id="ACME-998877")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def form(document_id: str, may_decline: bool = False, require_scroll_to_end: bool = False) -> FormDue:
    text = {"en": f"{document_id} terms in English", "es": f"{document_id} términos en español"}
    return FormDue(
        document_id=document_id, version="3", title={"en": document_id, "es": document_id}, text=text,
        sha256={lang: hashlib.sha256(body.encode()).hexdigest() for lang, body in text.items()}, may_decline=may_decline,
        require_scroll_to_end=require_scroll_to_end,
    )


# What the agent shows of a file: endings only (edge_agent.matching.on_file_hints).
HINTS = OnFileHints(street_ending="12", phone_ending="42", member_id_ending="303", payer="Blue Harbor Health")


def matched(forms=(), on_file: OnFileHints = OnFileHints()) -> LookupResponse:
    return LookupResponse(outcome="matched", appointment=AppointmentMatch(
        appointment_id="appt-42", start=TODAY.replace(hour=10, minute=30), clinician="Dr. Okafor", location="Room 3",
        display_name="Maria G.", on_file=on_file, forms_due=list(forms),
    ))


SIGNATURE = Signature(width_mm=120, height_mm=40, device="touch", strokes=[Stroke(points=[
    PenPoint(x_mm=5, y_mm=20, t_ms=0), PenPoint(x_mm=60, y_mm=10, t_ms=200), PenPoint(x_mm=110, y_mm=25, t_ms=400)])])


# kiosk.autopilot.tour's screens that the ergonomics test also draws in Arabic (right to left)
RTL_SPOT_CHECK = {"attract", "identify", "manual_name", "confirm", "done_ticket_on_screen"}
