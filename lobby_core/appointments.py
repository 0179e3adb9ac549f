"""Today's appointments as the agent holds them: what the schedule source gives, lookups match, and a
`checkin.v1` outbox event carries (lobby_core.outbox_events)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from lobby_core.contract import CoverageInfo, Demographics


Decision = Literal["accepted", "declined"]


@dataclass(frozen=True)
class PriorDecision:
    """A consent decision already on record for a patient (here, or at the central system)."""

    document_id: str
    version: str
    decision: Decision
    signed_at: dt.datetime


@dataclass(frozen=True)
class ScheduledAppointment:
    appointment_id: str  # the central system's id (FHIR Appointment.id), or the demo's
    start: dt.datetime  # timezone-aware
    clinician: str
    location: str
    patient_id: str  # the central system's Patient.id
    family: str
    given: str
    birth_date: dt.date
    demographics: Demographics = field(default_factory=Demographics)
    coverage: CoverageInfo | None = None
    new_patient: bool = False
    mrn: str = ""
    # The patient's consent decisions the central system holds (signed at another site, say).
    central_consents: tuple[PriorDecision, ...] = ()
    # The language the patient's record names as preferred (FHIR Patient.communication), a BCP 47 tag.
    preferred_language: str = ""
