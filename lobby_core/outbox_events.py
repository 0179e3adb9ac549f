"""The outbox's events: one class per event and version, owning its name and its payload's shape.

The agent writes one in the transaction that makes the business change (`store.enqueue(conn,
event.event_name, aggregate_id, patient_key, event.payload())`) and the central connectors read it back
with `parse_event(item.event_type, item.payload)`. The payload is stored as JSON, sealed; these
classes keep the JSON shape the outbox has always held, so stored events of older agents still parse.
An optional field may be added (older stored events read as its default); any other change of shape is
a new class with a new version (`checkin.v2`), never an edit of an old one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_serializer

from .appointments import ScheduledAppointment
from .contract import CheckinRequest, CoverageInfo, Demographics


class OutboxEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_name: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        """The JSON-ready dict the outbox stores."""
        return self.model_dump(mode="json")


class CheckinV1(OutboxEvent):
    """A patient checked in (edge_agent/checkin.py); becomes a FHIR transaction or an HL7 ADT^A04."""

    event_name: ClassVar[str] = "checkin.v1"

    checkin: CheckinRequest
    ticket: str
    arrived_at: dt.datetime  # stored as ISO 8601 UTC with milliseconds
    site_id: str
    site_name: str
    appointment: ScheduledAppointment | None = None
    consent_ids: list[str] = []
    flags: list[str] = []

    @field_serializer("arrived_at")
    def _milliseconds(self, value: dt.datetime) -> str:
        return value.isoformat(timespec="milliseconds")


class CheckinV2(CheckinV1):
    """`checkin.v1` and the scanned insurance card, by reference: `insurance_card` names the check-in
    whose row in the agent's `insurance_cards` table holds the sealed images and fields (the images are
    too big for an outbox payload, and are purged with the arrival). `checkin.insurance_card` is always
    None here. A connector reads it as a CheckinV1 (it is one) plus the card."""

    event_name: ClassVar[str] = "checkin.v2"

    insurance_card: str | None = None  # the check-in id the stored card belongs to; None: no card
    # The card's payer, member id, group and plan as the patient confirmed them (filled in from the
    # check-in's `coverage`), for connectors that send no image (HL7 v2 IN1). None: no card.
    card_coverage: CoverageInfo | None = None


class UpdatedPatient(BaseModel):
    """Who the update is for, as an HL7 v2 receiver finds a patient (its ADT^A08 needs these)."""

    model_config = ConfigDict(frozen=True)

    family: str
    given: str = ""
    birth_date: dt.date


class PatientUpdateV1(OutboxEvent):
    """Staff accepted the demographics a patient's check-in brought (edge_agent/patient_updates.py)."""

    event_name: ClassVar[str] = "patient_update.v1"

    checkin_id: str
    patient_id: str  # the central system's Patient.id
    demographics: Demographics
    patient: UpdatedPatient | None = None  # absent in events queued before agents sent ADT^A08
    mrn: str = ""


EVENTS: dict[str, type[OutboxEvent]] = {event.event_name: event for event in (CheckinV1, CheckinV2, PatientUpdateV1)}


class UnknownEvent(ValueError):
    pass


def parse_event(name: str, payload: dict[str, Any]) -> OutboxEvent:
    """The stored event `name` with its payload; raises UnknownEvent for a name no class owns and
    pydantic.ValidationError for a payload that is not that event's shape."""
    try:
        event = EVENTS[name]
    except KeyError:
        raise UnknownEvent(f"event type {name!r} is not an outbox event this agent knows")
    return event.model_validate(payload)
