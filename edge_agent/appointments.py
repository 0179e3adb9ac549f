"""Today's appointments as the agent holds them: what the schedule source gives and lookups match."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .contract import CoverageInfo, Demographics


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
