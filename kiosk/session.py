"""The patient session: everything the kiosk knows about the person at the screen, and nothing after.

All protected health information the kiosk handles lives here and only here (screens render it from
here), so `wipe()` is the one place that makes a kiosk forget a patient.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Callable

from lobby_core.contract import CheckinResponse, ConsentRecord, CoverageInfo, InsuranceCardScan, LookupResponse

from .card_capture import CardReading
from .devices.identity import Identity


@dataclass
class ManualEntry:
    """What the patient typed on the on-screen keyboard and date pad."""

    family: str = ""
    birth_digits: str = ""  # up to 8 digits, in the order of the chosen locale's date pattern
    focus: str = "family"  # "family" or "birth"


@dataclass
class Session:
    clock: Callable[[], float] = time.monotonic
    language: str = "en"
    checkin_id: uuid.UUID = field(default_factory=uuid.uuid4)
    identity: Identity | None = None
    typed: ManualEntry = field(default_factory=ManualEntry)
    scan_buffer: str = ""
    reminder_token: str | None = None
    lookup: LookupResponse | None = None
    consents: list[ConsentRecord] = field(default_factory=list)
    form_index: int = 0
    form_read_to_end: bool = False  # the current form was scrolled to its end
    misses: int = 0  # lookups that found nobody in this session
    details_changed: bool = False  # "something changed" on "Is this still right?"
    details_reviewed: bool = False  # "Is this still right?" was answered, either way
    signature_strokes: int = 0  # strokes drawn on the on-screen pad for the current form
    result: CheckinResponse | None = None
    insurance_card: CardReading | None = None  # the scanned card's images and fields, memory only
    card_jpegs: tuple[bytes, bytes | None] | None = None  # both sides as the check-in carries them
    card_asked: bool = False  # "Do you have an insurance card?" was asked in this session
    card_attempt: int = 0  # scans started: an answer for an older one is wiped unread
    card_edits: dict[str, str] = field(default_factory=dict)  # field -> what the patient typed over the reading
    card_editing: str = ""  # the field on the keyboard
    card_typed: str = ""
    card_scan: InsuranceCardScan | None = None  # the confirmed card, sent with the check-in
    card_coverage: CoverageInfo | None = None
    last_activity: float = 0.0

    def __post_init__(self) -> None:
        self.last_activity = self.clock()

    def touch(self) -> None:
        """The patient did something: the idle timer starts again."""
        self.last_activity = self.clock()

    def idle_for(self) -> float:
        return self.clock() - self.last_activity

    @property
    def appointment(self):
        return self.lookup.appointment if self.lookup else None

    def wipe(self, language: str = "en") -> None:
        """Forget the patient: every field back to its fresh value, a new check-in id."""
        if self.insurance_card is not None:
            self.insurance_card.wipe()
        fresh = Session(clock=self.clock, language=language)
        for item in fields(self):
            setattr(self, item.name, getattr(fresh, item.name))
