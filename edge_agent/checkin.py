"""One check-in, durably: idempotency, arrival, consents and the outbox event in ONE transaction.

    outcome = await submit(request, kiosk_id=..., idempotency_key=..., store=..., schedule=...,
                           consent_library=..., site=config.site)
    match outcome:
        case Stored(body, entry): ...     # 201: body is the CheckinResponse JSON; entry is for the desk
        case Replayed(body): ...          # 200: the answer stored under this Idempotency-Key, unchanged
        case AlreadyArrived(body, entry): # 200: this appointment's existing ticket; entry: merged, republish

A repeat with the same Idempotency-Key and the same body returns the stored answer byte for byte and
stores nothing; the same key with another body, or a check-in id already used under another key, is a
409. Exactly once per visit too: a check-in for an appointment that already has an active arrival
(`arrivals.active_visit`, backed by migration 0011's unique index) is `AlreadyArrived` (200, the existing
ticket, flag `already_checked_in`) and stores nothing new; one an offline kiosk spooled is merged into
that arrival (flag `offline_merged` for the desk), so central never gets a second Encounter. The outbox event is a `lobby_core.outbox_events.CheckinV1` (read by edge_agent/fhir_bundle.py and the
HL7 v2 connector).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass

from . import arrivals, matching
from lobby_core.appointments import ScheduledAppointment
from .auth import require_same_kiosk
from .config import SiteSection
from .consents.documents import ConsentLibrary
from .consents.records import ConsentRecordError, insert_consents, validate_records
from lobby_core import comparison
from lobby_core.contract import CheckinRequest, CheckinResponse
from lobby_core.outbox_events import CheckinV1
from .problems import ProblemError
from .schedule import ScheduleCache
from .store import Store


STORE_RETRY_AFTER_S = 10


@dataclass(frozen=True)
class Stored:
    """A new check-in, committed: answer 201 with `body` and publish `entry`."""

    body: bytes
    entry: arrivals.QueueEntry


@dataclass(frozen=True)
class Replayed:
    """A repeat of a stored check-in: answer 200 with the stored `body`; nothing was stored."""

    body: bytes


@dataclass(frozen=True)
class AlreadyArrived:
    """The appointment has an active arrival already: answer 200 with `body` (the existing ticket, flag
    `already_checked_in`); nothing new was stored. A spooled (offline) check-in was merged into that
    arrival: flagged `offline_merged` for the desk, and `entry` is the arrival to republish then."""

    body: bytes
    entry: arrivals.QueueEntry | None


CheckinOutcome = Stored | Replayed | AlreadyArrived


@dataclass(frozen=True)
class _Committed:
    response: str
    placement: arrivals.Placement


def store_unavailable() -> ProblemError:
    """The 503 for a check-in the store cannot take (the kiosk keeps it in its spool and sends it later)."""
    return ProblemError(
        503, "store_unavailable", "The agent cannot store check-ins right now; nothing was stored.",
        headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
    )  # fmt: skip


def flags_for(request: CheckinRequest, appointment: ScheduledAppointment | None) -> list[str]:
    """Flag codes for the desk (no PHI): what staff should look at for this arrival."""
    flags = []
    if appointment is None:
        flags.append("no_appointment")
    else:
        patient = request.patient
        if not matching.identity_matches(
            patient.family, patient.given, patient.birth_date, scheduled_family=appointment.family,
            scheduled_given=appointment.given, scheduled_birth_date=appointment.birth_date,
        ):  # fmt: skip
            flags.append("identity_mismatch")
        if comparison.demographics_changed(request.demographics, appointment.demographics):
            flags.append("demographics_changed")
        if comparison.coverage_changed(request.coverage, appointment.coverage):
            flags.append("insurance_changed")
    if appointment is None and request.coverage is not None:
        flags.append("insurance_changed")
    if any(record.decision == "declined" for record in request.consents):
        flags.append("forms_declined")
    if request.offline is not None:
        flags.append("offline_spool")
    return flags


def arrival_time(request: CheckinRequest, now: dt.datetime | None = None) -> dt.datetime:
    """Now, or for a check-in an offline kiosk spooled, when the patient really arrived (never in the
    future: kiosk clocks drift)."""
    now = now or dt.datetime.now(dt.UTC)
    if request.offline is None or request.offline.spooled_at.tzinfo is None:
        return now
    return min(request.offline.spooled_at.astimezone(dt.UTC), now)


def request_hash(request: CheckinRequest) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


async def submit(
    request: CheckinRequest, *, kiosk_id: str, idempotency_key: str, store: Store, schedule: ScheduleCache,
    consent_library: ConsentLibrary, site: SiteSection,
) -> CheckinOutcome:  # fmt: skip
    require_same_kiosk(request.kiosk_id, kiosk_id)
    if request.consents:
        try:  # in a thread: checking the documents may re-read their folder and store new versions
            await asyncio.to_thread(validate_records, request.consents, consent_library, kiosk_id=kiosk_id)
        except ConsentRecordError as exc:
            raise ProblemError(422, exc.code, exc.message, field=exc.field)

    appointment = schedule.get(request.appointment_id) if request.appointment_id else None
    identity = appointment or request.patient
    patient_key = matching.patient_key(store.key, identity.family, identity.given, identity.birth_date)
    checkin_id = str(request.checkin_id)
    arrived = arrival_time(request)
    arrived_at = arrived.isoformat(timespec="milliseconds")
    day = arrivals.site_day(site.timezone, arrived)
    flags = flags_for(request, appointment)
    checkin_json = request.model_dump(mode="json")
    details = {
        **checkin_json["patient"],
        "coverage": checkin_json["coverage"],
        "demographics": checkin_json["demographics"],
        "answers": checkin_json["answers"],
        "patient_id": appointment.patient_id if appointment else None,
    }
    new_arrival = arrivals.NewArrival(
        checkin_id=checkin_id, day=day, kiosk_id=kiosk_id,
        appointment_id=appointment.appointment_id if appointment else request.appointment_id,
        appointment_start=appointment.start.isoformat() if appointment else None,
        clinician=appointment.clinician if appointment else "", identity_source=request.identity_source,
        language=request.language, flags=flags, arrived_at=arrived_at, patient_key=patient_key,
        details_sealed=store.seal_json(details, arrivals.details_context(checkin_id)),
        offline_ticket=request.offline.kiosk_ticket if request.offline else None,
    )  # fmt: skip
    body_hash = request_hash(request)

    def already_arrived(conn: sqlite3.Connection, visit: sqlite3.Row) -> AlreadyArrived:
        """Nothing new for this visit: the existing ticket, and for a spooled check-in a flag for the desk."""
        if visit["checkin_id"] == checkin_id:  # this very check-in, under another Idempotency-Key
            raise ProblemError(409, "checkin_id_reused", "This check-in id was already used.", field="checkin_id")
        merged = None
        if request.offline is not None:
            arrivals.add_flag(conn, visit["checkin_id"], arrivals.OFFLINE_MERGED)
            merged = arrivals.queue_entry(conn, store, visit["checkin_id"])
        position = arrivals.position_of(conn, visit)
        response = CheckinResponse(
            checkin_id=request.checkin_id, ticket=visit["ticket"], position=position,
            estimated_wait_min=arrivals.estimated_wait_min(conn, visit["day"], max(0, position - 1)),
            flags=[arrivals.ALREADY_CHECKED_IN],
        ).model_dump_json()  # fmt: skip
        return AlreadyArrived(response.encode(), merged)

    def transaction(conn: sqlite3.Connection) -> _Committed | Replayed | AlreadyArrived:
        stored = conn.execute("SELECT request_hash, response FROM idempotency WHERE key = ?", (idempotency_key,)).fetchone()
        if stored is not None:
            if stored[0] != body_hash:
                raise ProblemError(409, "idempotency_key_reused", "This Idempotency-Key was used for a different check-in.")
            return Replayed(stored[1].encode())  # read only: its savepoint holds nothing
        if (visit := arrivals.active_visit(conn, new_arrival.appointment_id)) is not None:
            return already_arrived(conn, visit)
        try:  # the store's unique index is the last word, whatever raced past the check above
            placement = arrivals.add_visit(conn, new_arrival)
        except arrivals.VisitExists:
            visit = arrivals.active_visit(conn, new_arrival.appointment_id)
            assert visit is not None  # the index names exactly the rows active_visit finds
            return already_arrived(conn, visit)
        consent_ids = insert_consents(
            conn, store, checkin_id=checkin_id, patient_key=patient_key, patient=request.patient,
            records=request.consents, documents=consent_library, site_id=site.id, site_name=site.name,
        ) if request.consents else []  # fmt: skip
        event = CheckinV1(
            checkin=request, ticket=placement.ticket, arrived_at=arrived, site_id=site.id,
            site_name=site.name, appointment=appointment, consent_ids=consent_ids, flags=placement.flags,
        )  # fmt: skip
        store.enqueue(conn, event.event_name, checkin_id, patient_key, event.payload())
        response = CheckinResponse(
            checkin_id=request.checkin_id, ticket=placement.ticket, position=placement.position,
            estimated_wait_min=placement.estimated_wait_min, flags=placement.flags,
        ).model_dump_json()  # fmt: skip
        conn.execute(
            "INSERT INTO idempotency(key, kiosk_id, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
            (idempotency_key, kiosk_id, body_hash, response, arrived_at),
        )
        return _Committed(response, placement)

    try:
        outcome = await store.write(transaction)
    except ConsentRecordError as exc:
        raise ProblemError(422, exc.code, exc.message, field=exc.field)
    except sqlite3.IntegrityError as exc:  # the arrival's primary key: this check-in id is taken
        if "arrivals.checkin_id" in str(exc):
            raise ProblemError(409, "checkin_id_reused", "This check-in id was already used.", field="checkin_id")
        raise ProblemError(409, "conflict", "This check-in conflicts with one already stored.")
    except sqlite3.DatabaseError:  # disk full, a write lock held too long, an I/O error: rolled back whole
        raise store_unavailable()
    if isinstance(outcome, (Replayed, AlreadyArrived)):
        return outcome
    placement = outcome.placement
    entry = arrivals.QueueEntry(
        checkin_id=checkin_id, ticket=placement.ticket, status="waiting", position=placement.position, room="",
        flags=placement.flags, kiosk_id=kiosk_id, appointment_id=new_arrival.appointment_id,
        appointment_start=new_arrival.appointment_start, clinician=new_arrival.clinician,
        identity_source=request.identity_source, language=request.language, offline=request.offline is not None,
        arrived_at=arrived_at, called_at=None, roomed_at=None, finished_at=None, patient=details,
    )  # fmt: skip
    return Stored(outcome.response.encode(), entry)
