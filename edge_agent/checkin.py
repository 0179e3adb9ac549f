"""One check-in, durably: idempotency, arrival, consents and the outbox event in ONE transaction.

    outcome = await submit(request, kiosk_id=..., idempotency_key=..., store=..., schedule=...,
                           consent_library=..., site=config.site, limiter=lookup_limiter)
    match outcome:
        case Stored(body, entry): ...     # 201: body is the CheckinResponse JSON; entry is for the desk
        case Replayed(body): ...          # 200: the answer stored under this Idempotency-Key, unchanged
        case AlreadyArrived(body, entry): # 200: this appointment's existing ticket; entry: merged, republish

A repeat with the same Idempotency-Key and the same body returns the stored answer byte for byte and
stores nothing; the same key with another body, or a check-in id already used under another key, is a
409. Exactly once per visit too: a check-in for an appointment that already has an active arrival
(`arrivals.active_visit`, backed by migration 0011's unique index) is `AlreadyArrived` (200, the existing
ticket, flag `already_checked_in`) and stores nothing new; one an offline kiosk spooled is merged into
that arrival (flag `offline_merged` for the desk), so central never gets a second Encounter. The outbox event is a `lobby_core.outbox_events.CheckinV2` (read by edge_agent/fhir_bundle.py and the
HL7 v2 connector): a scanned insurance card is checked as real JPEGs before anything is stored (422
`card_image_invalid`), stored sealed in `insurance_cards` in the same transaction (edge_agent/
insurance_cards.py) and named by the event, not copied into it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass

from . import arrivals, details_review, insurance_cards, matching, ratelimit
from lobby_core.appointments import ScheduledAppointment
from .auth import require_same_kiosk
from .config import SiteSection
from .consents.documents import ConsentLibrary
from .consents.records import ConsentRecordError, insert_consents, validate_records
from lobby_core import comparison
from lobby_core.contract import CheckinRequest, CheckinResponse
from lobby_core.outbox_events import CheckinV2
from .eligibility import checks as eligibility_checks
from .problems import ProblemError
from .ratelimit import RateLimiter
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


IDENTITY_MISMATCH = "identity_mismatch"  # to the desk: a spooled check-in named someone else's appointment
INSURANCE_SEE_DESK = "insurance_see_desk"
KIOSK_FLAGS = frozenset({
    "forms_declined", "offline_spool", "ticket_reissued",
    # Today's cached eligibility answer for this patient says inactive: the kiosk shows only "Please see
    # the front desk about your insurance", never why, nor anything else from the file or the payer. Not
    # stored with the arrival: the desk has the eligibility state (and `coverage_inactive`) itself.
    INSURANCE_SEE_DESK,
})  # fmt: skip
"""The flags the kiosk is told: only ones that follow from what it sent itself, and the one call to see
the desk about insurance. The others (a changed address or insurance, no appointment) are computed from
the file and are the desk's alone."""


def insurance_needs_desk(conn: sqlite3.Connection, store: Store, patient_key: str, day: str) -> bool:
    """Today's cached eligibility answer for this patient says inactive (read in the check-in's
    transaction; a re-check of a new card happens after the commit and never delays the answer)."""
    known = eligibility_checks.get(conn, store, patient_key, day)
    return known is not None and known.state == "inactive"


def flags_for(request: CheckinRequest, appointment: ScheduledAppointment | None) -> list[str]:
    """Flag codes for the desk (no PHI): what staff should look at for this arrival. An identity that
    does not match its appointment never gets here (`verify_identity` refused it)."""
    flags = []
    if appointment is None:
        flags.append("no_appointment")
    else:
        if comparison.demographics_changed(request.demographics, appointment.demographics):
            flags.append("demographics_changed")
        if comparison.coverage_changed(request.coverage, appointment.coverage):
            flags.append("insurance_changed")
    if appointment is None and request.coverage is not None:
        flags.append("insurance_changed")
    if request.details_changed:
        flags.append("details_changed")
    if any(record.decision == "declined" for record in request.consents):
        flags.append("forms_declined")
    if request.offline is not None:
        flags.append("offline_spool")
    return flags


def compared_with_file(request: CheckinRequest, appointment: ScheduledAppointment | None) -> CheckinRequest:
    """The check-in as stored and sent on: what the ID and the card said is kept where it differs from
    the file (for the desk to accept, and for the central system), and dropped where it is the same.
    The kiosk sends whatever it read, since it has no file to compare with."""
    if appointment is None:
        return request
    update: dict[str, None] = {}
    if request.coverage is not None and not comparison.coverage_changed(request.coverage, appointment.coverage):
        update["coverage"] = None
    if request.demographics is not None and not comparison.demographics_changed(request.demographics, appointment.demographics):
        update["demographics"] = None
    return request.model_copy(update=update) if update else request


def verify_identity(request: CheckinRequest, appointment: ScheduledAppointment | None, *, kiosk_id: str,
                    limiter: RateLimiter, reminded_appointment_id: str | None = None) -> bool:  # fmt: skip
    """A check-in naming an appointment must carry that appointment's patient's identity, under the
    lookup's rate limit (edge_agent/ratelimit.py): refused while the kiosk's or the appointment's bucket is
    empty, whatever the identity, and a miss spends from both. A wrong identity and an appointment id
    that does not exist get the same answer, so neither tells anything about the file.

    A check-in the kiosk spooled while offline is never refused for its identity (the patient has gone
    and took a ticket): a miss spends as one and answers False, and the caller keeps it for the desk,
    detached from the appointment it names, with the same answer as for an unknown appointment.

    `reminded_appointment_id`: the appointment a verified reminder QR names; with it the birth date alone
    is the identity, as at lookup."""
    if request.appointment_id is None:
        return True
    buckets = (ratelimit.kiosk_bucket(kiosk_id), ratelimit.appointment_bucket(request.appointment_id))
    wait_s = max(limiter.wait(bucket) for bucket in buckets)
    if wait_s:
        raise ProblemError(
            429, "rate_limited", "Too many check-in attempts; please ask at the front desk.",
            headers={"Retry-After": RateLimiter.retry_after_header(wait_s)},
        )  # fmt: skip
    patient = request.patient
    if appointment is not None and matching.identity_matches(
        patient.family, patient.given, patient.birth_date, scheduled_family=appointment.family,
        scheduled_given=appointment.given, scheduled_birth_date=appointment.birth_date,
    ):  # fmt: skip
        return True
    if appointment is not None and reminded_appointment_id and matching.reminder_matches(
        patient.birth_date, reminded_appointment_id=reminded_appointment_id,
        appointment_id=appointment.appointment_id, scheduled_birth_date=appointment.birth_date,
    ):  # fmt: skip
        return True
    for bucket in buckets:
        limiter.take(bucket)
    if request.offline is not None:
        return False
    raise ProblemError(422, "identity_mismatch", "This check-in does not match the appointment; please ask at the front desk.",
                       field="patient")  # fmt: skip


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
    consent_library: ConsentLibrary, site: SiteSection, limiter: RateLimiter, reminded_appointment_id: str | None = None,
) -> CheckinOutcome:  # fmt: skip
    require_same_kiosk(request.kiosk_id, kiosk_id)
    appointment = schedule.get(request.appointment_id) if request.appointment_id else None
    identity_verified = verify_identity(request, appointment, kiosk_id=kiosk_id, limiter=limiter,
                                        reminded_appointment_id=reminded_appointment_id)  # fmt: skip
    body_hash = request_hash(request)  # of what the kiosk sent: its retry is the same body
    claimed_appointment_id = None
    if not identity_verified and appointment is not None:  # spooled, and not this appointment's patient
        claimed_appointment_id, appointment = request.appointment_id, None
        request = request.model_copy(update={"appointment_id": None})
    request = compared_with_file(request, appointment)
    if request.consents:
        try:  # in a thread: checking the documents may re-read their folder and store new versions
            await asyncio.to_thread(validate_records, request.consents, consent_library, kiosk_id=kiosk_id)
        except ConsentRecordError as exc:
            raise ProblemError(422, exc.code, exc.message, field=exc.field)

    card = None
    if request.insurance_card is not None:  # every image decoded whole before anything is stored
        card = await asyncio.to_thread(insurance_cards.check_scan, request.insurance_card)
        request = request.model_copy(update={"insurance_card": None})  # stored apart, sealed, not in the event

    identity = appointment or request.patient
    patient_key = matching.patient_key(store.key, identity.family, identity.given, identity.birth_date)
    checkin_id = str(request.checkin_id)
    arrived = arrival_time(request)
    arrived_at = arrived.isoformat(timespec="milliseconds")
    day = arrivals.site_day(site.timezone, arrived)
    flags = flags_for(request, appointment) + ([IDENTITY_MISMATCH] if claimed_appointment_id else [])
    # "Yes, that's right" about this appointment's file; never for a spooled check-in detached from the
    # appointment it named (identity_mismatch: `appointment` is None), nor after "Something changed".
    confirmed_digest = None
    if appointment is not None and request.details_reviewed and not request.details_changed:
        confirmed_digest = details_review.hints_digest(
            store.key, matching.on_file_hints(appointment.demographics, appointment.coverage))
    checkin_json = request.model_dump(mode="json")
    details = {
        **checkin_json["patient"],
        "coverage": checkin_json["coverage"],
        "demographics": checkin_json["demographics"],
        "answers": checkin_json["answers"],
        "patient_id": appointment.patient_id if appointment else None,
        **({"claimed_appointment_id": claimed_appointment_id} if claimed_appointment_id else {}),
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
        if card is not None:
            insurance_cards.insert_card(conn, store, checkin_id, card)
        if confirmed_digest is not None:
            details_review.record_confirmed(conn, patient_key, dt.date.fromisoformat(day), confirmed_digest)
        event = CheckinV2(
            checkin=request, ticket=placement.ticket, arrived_at=arrived, site_id=site.id,
            site_name=site.name, appointment=appointment, consent_ids=consent_ids, flags=placement.flags,
            insurance_card=checkin_id if card is not None else None,
            card_coverage=insurance_cards.coverage_of(card.fields, request.coverage) if card is not None else None,
        )  # fmt: skip
        store.enqueue(conn, event.event_name, checkin_id, patient_key, event.payload())
        kiosk_flags = [f for f in placement.flags if f in KIOSK_FLAGS]
        if insurance_needs_desk(conn, store, patient_key, day):
            kiosk_flags.append(INSURANCE_SEE_DESK)
        response = CheckinResponse(
            checkin_id=request.checkin_id, ticket=placement.ticket, position=placement.position,
            estimated_wait_min=placement.estimated_wait_min, flags=kiosk_flags,
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
        card_fields_to_check=card.review_count if card is not None else None,
    )  # fmt: skip
    return Stored(outcome.response.encode(), entry)
