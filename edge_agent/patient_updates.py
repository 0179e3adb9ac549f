"""An accepted demographics change, queued for the central system as a `patient_update.v1` event.

It goes into the outbox under the arrival's patient key, so it is delivered after that patient's
check-in (the outbox delivers each patient's events in order)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Literal

from lobby_core.outbox_events import PatientUpdateV1, UpdatedPatient

from . import arrivals

if TYPE_CHECKING:
    from .store import Store

UpdateOutcome = Literal["queued", "no_central_patient", "nothing_to_send"]


def enqueue_accepted_demographics(conn: sqlite3.Connection, store: "Store", checkin_id: str) -> UpdateOutcome:
    """Queue the arrival's submitted demographics for its central Patient, inside the caller's transaction.

    A walk-in without an appointment has no central Patient yet: nothing is queued."""
    row = conn.execute(
        "SELECT patient_key, details_sealed, appointment_id FROM arrivals WHERE checkin_id = ?", (checkin_id,)
    ).fetchone()
    details = store.unseal_json(row["details_sealed"], arrivals.details_context(checkin_id)) if row["details_sealed"] else {}
    if not details.get("patient_id"):
        return "no_central_patient"
    if not details.get("demographics"):
        return "nothing_to_send"
    # The name, birth date and MRN let an HL7 v2 receiver find the patient (its ADT^A08 needs them).
    event = PatientUpdateV1(
        checkin_id=checkin_id,
        patient_id=details["patient_id"],
        demographics=details["demographics"],
        patient=UpdatedPatient.model_validate(details) if details.get("family") and details.get("birth_date") else None,
        mrn=_scheduled_mrn(conn, store, row["appointment_id"]),
    )
    store.enqueue(conn, event.event_name, f"{checkin_id}:demographics", row["patient_key"], event.payload())
    return "queued"


def _scheduled_mrn(conn: sqlite3.Connection, store: "Store", appointment_id: str | None) -> str:
    row = conn.execute("SELECT details_sealed FROM appointments WHERE appointment_id = ?", (appointment_id,)).fetchone()
    if row is None:
        return ""
    mrn: str = store.unseal_json(row["details_sealed"], f"appointment:{appointment_id}").get("mrn", "")
    return mrn
