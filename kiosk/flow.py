"""The check-in state machine: every step and every transition, with no window and no network.

The app feeds it what happens (touches, device events, the agent's answers, the passing of time) and
carries out the effects it returns (ask the agent, print, flag the desk). Screens render `flow.step`,
`flow.session` and the flow's notices; they never decide anything themselves.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import functools
import hashlib
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Union

from lobby_core.contract import (
    Address,
    BoardState,
    CheckinRequest,
    CheckinResponse,
    ConsentRecord,
    CardFieldReading,
    CoverageInfo,
    Demographics,
    FormDue,
    InsuranceCardScan,
    LookupRequest,
    LookupResponse,
    OnFileHints,
    PatientIdentity,
    Signature,
)

from .card_capture import CardReading
from .devices.base import (
    CardInserted,
    CardRemoved,
    DeviceEvent,
    DeviceState,
    DeviceStatus,
    Printed,
    Scanned,
    SignatureCaptured,
    StatusChanged,
)
from .devices.identity import Identity
from .session import Session


class Step(str, enum.Enum):
    ATTRACT = "attract"
    IDENTIFY = "identify"
    MANUAL = "manual"
    LOOKING_UP = "looking_up"
    NOT_FOUND = "not_found"
    CONFIRM = "confirm"
    SEE_DESK = "see_desk"
    REVIEW = "review"
    CARD_ASK = "card_ask"  # "Do you have an insurance card?"
    CARD_SCAN = "card_scan"  # "Put the front of your card in the scanner"
    CARD_READING = "card_reading"  # the scanner and Tesseract at work, off the UI thread
    CARD_CONFIRM = "card_confirm"  # the fields read, each with "Change"
    CARD_EDIT = "card_edit"  # one field on the on-screen keyboard
    FORMS = "forms"
    SUBMITTING = "submitting"
    OFFLINE = "offline"
    DONE = "done"


_UNKNOWN = DeviceStatus(DeviceState.UNKNOWN)
CARD_STEPS = {Step.CARD_ASK, Step.CARD_SCAN, Step.CARD_READING, Step.CARD_CONFIRM, Step.CARD_EDIT}
PATIENT_STEPS = {Step.IDENTIFY, Step.MANUAL, Step.NOT_FOUND, Step.CONFIRM, Step.SEE_DESK, Step.REVIEW, Step.FORMS,
                 Step.OFFLINE} | CARD_STEPS  # fmt: skip
WAITING_STEPS = {Step.LOOKING_UP, Step.SUBMITTING}
# The step indicator: which of the patient's four steps each screen belongs to.
PROGRESS = {
    Step.IDENTIFY: 1, Step.MANUAL: 1, Step.LOOKING_UP: 1, Step.NOT_FOUND: 1, Step.OFFLINE: 2, Step.CONFIRM: 2,
    Step.REVIEW: 2, Step.FORMS: 3, Step.SUBMITTING: 3, **{step: 2 for step in CARD_STEPS},
}  # fmt: skip  (done is the end, not a step: its bar is gone and the number says it)
PROGRESS_STEPS = 3
MISSES_BEFORE_DESK = 2
# The card's fields the patient sees and may change; the others go to the desk as read.
CARD_SHOWN = ("payer_name", "member_id", "group_number", "plan")
CARD_FIELD_MAX = 40  # characters typed into one card field
INSURANCE_SEE_DESK = "insurance_see_desk"  # the agent's flag: the done screen sends the patient to the desk


# --- effects: what the app must do for the flow ----------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    request: LookupRequest


@dataclass(frozen=True)
class SubmitCheckin:
    request: CheckinRequest


@dataclass(frozen=True)
class PrintTicket:
    ticket: str
    position: int
    estimated_wait_min: int
    language: str


@dataclass(frozen=True)
class RequestHelp:
    screen: str  # which screen and why, e.g. "see_desk/none", "done/printer", "forms"
    language: str


@dataclass(frozen=True)
class ReportHealth:
    """Send a heartbeat now: a device state changed in a way staff must see."""


@dataclass(frozen=True)
class CaptureCard:
    """Scan the insurance card and read it, off the UI thread; answer with `card_read` or `card_failed`."""

    checkin_id: object  # the session's check-in id and attempt: a late answer for another is wiped unread
    attempt: int


Effect = Union[Lookup, SubmitCheckin, PrintTicket, RequestHelp, ReportHealth, CaptureCard]


# --- what a scan can mean (kiosk/scan.py decides) -------------------------------------------------


@dataclass(frozen=True)
class ReminderScanned:
    token: str  # a verified reminder QR: names an appointment, identifies nobody


@dataclass(frozen=True)
class ScanRefused:
    notice: str  # catalogue key saying why


ScanMeaning = Union[Identity, ReminderScanned, ScanRefused, None]


# --- what the flow needs to know about the site ---------------------------------------------------


@dataclass(frozen=True)
class FlowSettings:
    kiosk_id: str = "kiosk-1"
    languages: tuple[str, ...] = ("en", "es")
    idle_timeout_s: float = 60
    idle_warning_s: float = 15
    idle_timeout_form_s: float = 180  # reading a consent takes longer than any other screen
    done_display_s: float = 20
    done_on_screen_max_s: float = 300  # no printer: the number stays until "Done", at most this long
    show_again_s: float = 120  # after "Done" on an unprinted ticket, the welcome screen offers it again
    device_kinds: Mapping[str, str] = field(default_factory=dict)  # device name -> kind
    card_scanner: bool = False  # an insurance card scanner is configured: the patient is asked for the card

    @property
    def default_language(self) -> str:
        return self.languages[0]


ALREADY_CHECKED_IN = "already_checked_in"  # the agent's flag (edge_agent/arrivals.py): this visit's existing ticket


@dataclass(frozen=True)
class Ticket:
    """What the done screen shows; no patient data, so it outlives the session."""

    ticket: str
    position: int
    estimated_wait_min: int
    offline: bool
    printed: bool = False
    on_screen: bool = False  # no usable printer: shown large instead
    already: bool = False  # the visit had checked in before: this is its existing ticket
    insurance_see_desk: bool = False  # the agent's flag: "Please see the front desk about your insurance"


DATE_ORDERS = {"MDY": (2, 2, 4), "DMY": (2, 2, 4), "YMD": (4, 2, 2)}


def birth_date_from_digits(digits: str, order: str, today: dt.date) -> dt.date | None:
    """'03141956' in MDY order -> 1956-03-14; None for anything that is not a plausible birth date."""
    if len(digits) != 8 or not digits.isdigit():
        return None
    parts, start = {}, 0
    for letter, width in zip(order, DATE_ORDERS[order]):
        parts[letter] = int(digits[start : start + width])
        start += width
    try:
        born = dt.date(parts["Y"], parts["M"], parts["D"])
    except ValueError:
        return None
    if born > today or today.year - born.year > 125:
        return None
    return born


@functools.lru_cache(maxsize=8)
def _birth_prefixes(order: str, today: dt.date) -> frozenset[str]:
    """Every prefix of every plausible birth date's digits in `order`: the date pad allows only these."""
    prefixes: set[str] = set()
    day = today
    while today.year - day.year <= 125:
        parts = {"D": f"{day.day:02d}", "M": f"{day.month:02d}", "Y": f"{day.year:04d}"}
        digits = "".join(parts[letter] for letter in order)
        prefixes.update(digits[:n] for n in range(1, 9))
        day -= dt.timedelta(days=1)
    return frozenset(prefixes)


def allowed_birth_digits(typed: str, order: str, today: dt.date) -> str:
    """The digits that can follow `typed` on the way to a valid birth date ('' when it is complete)."""
    prefixes = _birth_prefixes(order, today)
    return "".join(d for d in "0123456789" if typed + d in prefixes)


class Flow:
    def __init__(
        self,
        settings: FlowSettings,
        *,
        clock: Callable[[], float],
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        read_scan: Callable[[str], ScanMeaning] = lambda text: None,
        date_order: Callable[[str], str] = lambda language: "MDY",
    ):
        self.settings = settings
        self._now = now
        self._read_scan = read_scan
        self._date_order = date_order
        self.session = Session(clock=clock, language=settings.default_language)
        self.step = Step.ATTRACT
        self.notice = ""  # a catalogue key explaining the last problem on this screen, or ""
        self.help = ""  # "", "sent" (someone is coming) or "unreachable" (go to the desk)
        self.idle_warning_left: int | None = None  # seconds left on "Are you still there?"
        self.ticket: Ticket | None = None
        self.desk_call = ""  # on "see the desk": "sent" (someone is coming) or "unreachable" (go to the desk)
        self._last_ticket: tuple[Ticket, float] | None = None  # an unprinted ticket the patient may ask to see again
        self.agent_online = True
        self.devices: dict[str, DeviceStatus] = {}
        self.board: BoardState | None = None  # the lobby queue: ticket numbers only
        self._done_at = 0.0

    # --- what screens ask -----------------------------------------------------------------------

    @property
    def language(self) -> str:
        return self.session.language

    def usable(self, kind: str) -> bool:
        names = [name for name, k in self.settings.device_kinds.items() if k == kind]
        return any(self.devices.get(name, _UNKNOWN).usable for name in names)

    @property
    def printer_worth_trying(self) -> bool:
        """A receipt printer not known to be down (many never answer status: try them, then believe the result)."""
        return any(
            kind == "receipt_printer" and self.devices.get(name, _UNKNOWN).state is not DeviceState.OFFLINE
            for name, kind in self.settings.device_kinds.items()
        )

    @property
    def scanner_usable(self) -> bool:
        return self.usable("id_scanner") or self.usable("card_reader")

    @property
    def current_form(self) -> FormDue | None:
        appointment = self.session.appointment
        if self.step is not Step.FORMS or appointment is None:
            return None
        return appointment.forms_due[self.session.form_index]

    @property
    def progress(self) -> int:
        """Which of the PROGRESS_STEPS steps the patient is on (0: none shown)."""
        return PROGRESS.get(self.step, 0)

    @property
    def idle_timeout_s(self) -> float:
        return self.settings.idle_timeout_form_s if self.step is Step.FORMS else self.settings.idle_timeout_s

    @property
    def allowed_digits(self) -> str:
        return allowed_birth_digits(self.session.typed.birth_digits, self._date_order(self.language), self._now().date())

    @property
    def typed_birth_date(self) -> dt.date | None:
        return birth_date_from_digits(self.session.typed.birth_digits, self._date_order(self.language), self._now().date())

    @property
    def ticket_to_show_again(self) -> Ticket | None:
        if self.step is not Step.ATTRACT or self._last_ticket is None:
            return None
        ticket, until = self._last_ticket
        return ticket if self.session.clock() < until else None

    @property
    def can_sign(self) -> bool:
        form = self.current_form
        return form is not None and (not form.require_scroll_to_end or self.session.form_read_to_end)

    def form_language(self, form: FormDue) -> str:
        """The patient's language when the form has it, else the first language it is written in."""
        return self.language if self.language in form.text else next(iter(form.text))

    @property
    def on_file_hints(self) -> OnFileHints:
        """The endings of the details on file the agent sent, for "Is this still right?" (never more)."""
        appointment = self.session.appointment
        return appointment.on_file if appointment is not None else OnFileHints()

    def read_demographics(self) -> Demographics | None:
        """The address on the ID, whenever it has one: the agent compares it with the file and tells the
        desk (staff decide; nothing is overwritten). The kiosk has no file data to compare with."""
        identity = self.session.identity
        if identity is None or self.session.appointment is None or not identity.address_street:
            return None
        read = Address(
            street=identity.address_street,
            city=identity.address_city,
            state=identity.address_state,
            postal_code=identity.postal_code,
            country=identity.country,
        )
        return Demographics(address=read)

    def card_value(self, name: str) -> str:
        """A card field as the patient sees it: what they typed over it, else what was read, else ''."""
        session = self.session
        if name in session.card_edits:
            return session.card_edits[name]
        reading = session.insurance_card.fields.get(name) if session.insurance_card else None
        return (reading.value or "") if reading is not None else ""

    def card_needs_review(self, name: str) -> bool:
        """Read with low confidence (or a label without a value) and not typed over: the desk checks it."""
        session = self.session
        reading = session.insurance_card.fields.get(name) if session.insurance_card else None
        return reading is not None and reading.needs_review and name not in session.card_edits

    def read_coverage(self) -> CoverageInfo | None:
        """The insurance on the card, whenever one was read (the agent compares it with the file)."""
        identity = self.session.identity
        if identity is None or self.session.appointment is None or not identity.member_id:
            return None
        return CoverageInfo(payor=identity.payor, member_id=identity.member_id, source="card")

    # --- patient actions ------------------------------------------------------------------------

    def start(self) -> list[Effect]:
        """'Touch to check in'."""
        if self.step is Step.ATTRACT:
            self.session.touch()
            self._go(Step.IDENTIFY)
        return []

    def choose_language(self, language: str) -> list[Effect]:
        """Switch language on any screen; progress is kept."""
        if language in self.settings.languages:
            self.session.language = language
            self.session.touch()
        return []

    def type_by_hand(self) -> list[Effect]:
        if self.step in (Step.ATTRACT, Step.IDENTIFY):
            self.session.touch()
            self._go(Step.MANUAL)
        return []

    def focus(self, field_name: str) -> list[Effect]:
        if self.step is Step.MANUAL and field_name in ("family", "birth"):
            self.session.typed.focus = field_name
            self.session.touch()
        return []

    def key(self, char: str) -> list[Effect]:
        """A key on the on-screen keyboard (letters for the name, digits for the birth date)."""
        if self.step is Step.CARD_EDIT and len(char) == 1:
            return self._card_key(char)
        if self.step is not Step.MANUAL or len(char) != 1:
            return []
        typed = self.session.typed
        self.session.touch()
        self.notice = ""
        if typed.focus == "family" and (char.isalpha() or char in " '-") and len(typed.family) < 60:
            typed.family += char
        elif typed.focus == "birth" and char.isdigit() and char in self.allowed_digits:
            typed.birth_digits += char
        return []

    def backspace(self) -> list[Effect]:
        if self.step is Step.CARD_EDIT:
            self.session.touch()
            self.session.card_typed = self.session.card_typed[:-1]
        if self.step is Step.MANUAL:
            typed = self.session.typed
            self.session.touch()
            if typed.focus == "family":
                typed.family = typed.family[:-1]
            else:
                typed.birth_digits = typed.birth_digits[:-1]
        return []

    def submit_typed(self) -> list[Effect]:
        if self.step is not Step.MANUAL:
            return []
        self.session.touch()
        typed = self.session.typed
        family = " ".join(typed.family.split())
        born = self.typed_birth_date
        if not family and not self.session.reminder_token:
            self.notice, typed.focus = "manual.need_name", "family"
            return []
        if born is None:
            self.notice, typed.focus = "manual.bad_date", "birth"
            return []
        return self._identify(Identity(source="manual", family_name=family, birth_date=born))

    def next_field(self) -> list[Effect]:
        """'Next' under the keyboard: from the name to the birth date, from the birth date to the search."""
        if self.step is not Step.MANUAL:
            return []
        typed = self.session.typed
        if typed.focus == "family":
            self.session.touch()
            if not typed.family.strip():
                self.notice = "manual.need_name"
                return []
            self.notice, typed.focus = "", "birth"
            return []
        return self.submit_typed()

    def correct(self) -> list[Effect]:
        """'Correct what I typed' on "We could not find you": back to the keyboard, the text kept."""
        if self.step is not Step.NOT_FOUND:
            return []
        self.session.touch()
        self.session.typed.focus = "birth" if self.session.reminder_token else "family"
        self._go(Step.MANUAL)
        return []

    def form_scrolled_to_end(self) -> list[Effect]:
        if self.step is Step.FORMS and not self.session.form_read_to_end:
            self.session.form_read_to_end = True
            self.session.touch()
            if self.notice == "forms.scroll_first":
                self.notice = ""
        return []

    def show_ticket_again(self) -> list[Effect]:
        ticket = self.ticket_to_show_again
        if ticket is not None:
            self.ticket = ticket
            self._go(Step.DONE)
            self._done_at = self.session.clock()
        return []

    def confirm(self) -> list[Effect]:
        """'Yes, this is my appointment'."""
        if self.step is not Step.CONFIRM:
            return []
        self.session.touch()
        return self._after_confirm()

    def not_me(self) -> list[Effect]:
        if self.step is not Step.CONFIRM:
            return []
        self.session.touch()
        return self._see_desk("not-me")

    def review_done(self) -> list[Effect]:
        """'Yes, that is right' on "Is this still right?"."""
        if self.step is not Step.REVIEW:
            return []
        self.session.touch()
        self.session.details_changed = False
        self.session.details_reviewed = True
        return self._to_card_or_forms()

    def details_changed(self) -> list[Effect]:
        """'Something changed' on "Is this still right?": the check-in goes on, the desk is told."""
        if self.step is not Step.REVIEW:
            return []
        self.session.touch()
        self.session.details_changed = True
        self.session.details_reviewed = True
        return self._to_card_or_forms()

    # --- the insurance card ---------------------------------------------------------------------

    def has_card(self) -> list[Effect]:
        """'Yes, scan my card' on "Do you have an insurance card?"."""
        if self.step is Step.CARD_ASK:
            self._go(Step.CARD_SCAN)
        return []

    def scan_card(self) -> list[Effect]:
        """'Scan my card': the scanner takes the card, reading starts off the UI thread."""
        if self.step is not Step.CARD_SCAN:
            return []
        self.session.card_attempt += 1
        self._forget_card()
        self._go(Step.CARD_READING)
        return [CaptureCard(self.session.checkin_id, self.session.card_attempt)]

    def card_read(self, checkin_id: object, attempt: int, reading: CardReading, front_jpeg: bytes,
                  back_jpeg: bytes | None) -> list[Effect]:  # fmt: skip
        """The worker's answer: the card's sides and fields. One for another session or a skipped scan is wiped."""
        if self.step is not Step.CARD_READING or (checkin_id, attempt) != (self.session.checkin_id, self.session.card_attempt):
            reading.wipe()
            return []
        if not any(reading.fields.get(name) and reading.fields[name].value for name in CARD_SHOWN):
            reading.wipe()
            self.notice = "card.unreadable"
            self._go(Step.CARD_SCAN, keep_notice=True)
            return []
        self.session.insurance_card = reading
        self.session.card_jpegs = (front_jpeg, back_jpeg)
        self._go(Step.CARD_CONFIRM)
        return []

    def card_failed(self, checkin_id: object, attempt: int) -> list[Effect]:
        """No card came, or the scanner failed: say so; the patient may try again or skip."""
        if self.step is Step.CARD_READING and (checkin_id, attempt) == (self.session.checkin_id, self.session.card_attempt):
            self.notice = "card.failed"
            self._go(Step.CARD_SCAN, keep_notice=True)
        return []

    def change_card_field(self, name: str) -> list[Effect]:
        """'Change' beside a field: the on-screen keyboard, the value as shown to start from."""
        if self.step is Step.CARD_CONFIRM and name in CARD_SHOWN:
            self.session.card_editing = name
            self.session.card_typed = self.card_value(name)[:CARD_FIELD_MAX]
            self._go(Step.CARD_EDIT)
        return []

    def card_field_done(self) -> list[Effect]:
        """'OK' under the keyboard: the typed value replaces what was read."""
        session = self.session
        if self.step is not Step.CARD_EDIT:
            return []
        typed = " ".join(session.card_typed.split())
        read = session.insurance_card.fields.get(session.card_editing) if session.insurance_card else None
        if read is not None and typed == (read.value or ""):
            session.card_edits.pop(session.card_editing, None)  # the same as read: not a correction
        else:
            session.card_edits[session.card_editing] = typed
        session.card_editing, session.card_typed = "", ""
        self._go(Step.CARD_CONFIRM)
        return []

    def card_confirmed(self) -> list[Effect]:
        """'That's right' under the card's fields: they go with the check-in, the images with them."""
        session = self.session
        if self.step is not Step.CARD_CONFIRM or session.insurance_card is None or session.card_jpegs is None:
            return []
        fields = {}
        for name, reading in session.insurance_card.fields.items():
            corrected = name in session.card_edits
            fields[name] = CardFieldReading(value=self.card_value(name), needs_review=reading.needs_review and not corrected,
                                            corrected=corrected)  # fmt: skip
        front, back = session.card_jpegs
        # The contract's Base64Bytes validates base64 (what the wire carries) and holds the bytes decoded.
        session.card_scan = InsuranceCardScan(front_jpeg=base64.b64encode(front),
                                              back_jpeg=base64.b64encode(back) if back is not None else None, fields=fields)
        session.card_coverage = CoverageInfo(payor=self.card_value("payer_name"), member_id=self.card_value("member_id"),
                                             group=self.card_value("group_number"), plan=self.card_value("plan"), source="card")  # fmt: skip
        self._forget_card()  # what goes with the check-in is in card_scan now; the images are closed
        return self._to_forms()

    def skip_card(self) -> list[Effect]:
        """'Skip' on any card screen: the check-in goes on without the card (a scan still running is dropped)."""
        if self.step not in CARD_STEPS:
            return []
        self.session.card_attempt += 1  # a reading still under way is wiped when it arrives
        self._forget_card()
        self.session.card_scan, self.session.card_coverage = None, None
        return self._to_forms()

    def _card_key(self, char: str) -> list[Effect]:
        session = self.session
        session.touch()
        if (char.isalnum() or char in " '-&.") and len(session.card_typed) < CARD_FIELD_MAX:
            session.card_typed += char.upper() if session.card_editing != "payer_name" and session.card_editing != "plan" else char
        return []

    def _forget_card(self) -> None:
        session = self.session
        if session.insurance_card is not None:
            session.insurance_card.wipe()
        session.insurance_card, session.card_jpegs = None, None
        session.card_edits, session.card_editing, session.card_typed = {}, "", ""

    def stroke_drawn(self) -> list[Effect]:
        """A stroke on the on-screen signature area (the widget holds the ink; the flow counts it)."""
        if self.step is Step.FORMS:
            self.session.signature_strokes += 1
            self.session.touch()
        return []

    def clear_signature(self) -> list[Effect]:
        if self.step is Step.FORMS:
            self.session.signature_strokes = 0
            self.session.touch()
        return []

    def sign(self, signature: Signature) -> list[Effect]:
        """The current form signed, on the pad or on the screen."""
        form = self.current_form
        if form is None or not signature.strokes:
            return []
        if not self.can_sign:
            self.notice = "forms.scroll_first"
            return []
        return self._decide(form, "accepted", signature)

    def decline(self) -> list[Effect]:
        form = self.current_form
        if form is None or not form.may_decline:
            return []
        return self._decide(form, "declined", None)

    def check_in_offline(self) -> list[Effect]:
        """The agent is away: check in by name alone, matched later by staff."""
        if self.step is not Step.OFFLINE:
            return []
        self.session.touch()
        return self._submit()

    def ask_for_help(self) -> list[Effect]:
        self.session.touch()
        self.help = "sent"
        return [RequestHelp(screen=self.step.value, language=self.language)]

    def dismiss_help(self) -> list[Effect]:
        self.help = ""
        self.session.touch()
        return []

    def still_here(self) -> list[Effect]:
        """'Yes, I'm still here' on the idle warning, or any touch while it shows."""
        self.idle_warning_left = None
        self.session.touch()
        return []

    def back(self) -> list[Effect]:
        """'Back' on the keyboard: from the birth date to the name, from the name to the choice of how;
        on a card field, back to the card's fields with the field as it was."""
        if self.step is Step.CARD_EDIT:
            self.session.card_editing, self.session.card_typed = "", ""
            self._go(Step.CARD_CONFIRM)
        if self.step is Step.MANUAL:
            self.session.touch()
            self.notice = ""
            typed = self.session.typed
            if typed.focus == "birth" and not self.session.reminder_token:
                typed.focus = "family"
            else:
                self._go(Step.IDENTIFY)
        return []

    def finish(self) -> list[Effect]:
        """'Start over' anywhere, or 'Done' on the ticket screen: forget everything."""
        if self.step not in WAITING_STEPS:
            ticket = self.ticket
            self._reset()
            if ticket is not None and ticket.on_screen:
                self._last_ticket = (ticket, self.session.clock() + self.settings.show_again_s)
        return []

    # --- devices --------------------------------------------------------------------------------

    def device_event(self, event: DeviceEvent) -> list[Effect]:
        if isinstance(event, StatusChanged):
            return self._status_changed(event.device, event.status)
        if isinstance(event, Scanned):
            return self._scanned(event.text)
        if isinstance(event, CardInserted):
            return self._card_inserted(event)
        if isinstance(event, CardRemoved):
            return self._card_removed()
        if isinstance(event, Printed):
            return self.printed(ok=True)
        if isinstance(event, SignatureCaptured):
            return self.sign(event.signature)
        return []

    def _status_changed(self, name: str, status: DeviceStatus) -> list[Effect]:
        was_usable = self.devices.get(name, status).usable
        self.devices[name] = status
        return [ReportHealth()] if was_usable != status.usable else []

    def _scanned(self, text: str) -> list[Effect]:
        if self.step not in (Step.ATTRACT, Step.IDENTIFY, Step.MANUAL):
            return []
        self.session.touch()
        self.session.scan_buffer = text
        meaning = self._read_scan(text)
        self.session.scan_buffer = ""
        if isinstance(meaning, ReminderScanned):
            self.session.reminder_token = meaning.token  # with the birth date alone it names the patient
            self.notice = "identify.reminder_ok"
            self.session.typed.focus = "birth"
            self._go(Step.MANUAL, keep_notice=True)
            return []
        if not isinstance(meaning, Identity) or meaning.birth_date is None or not meaning.family_name:
            self.notice = meaning.notice if isinstance(meaning, ScanRefused) else "identify.unreadable"
            self._go(Step.IDENTIFY, keep_notice=True)
            return []
        return self._identify(meaning)

    def _card_inserted(self, event: CardInserted) -> list[Effect]:
        if self.step not in (Step.ATTRACT, Step.IDENTIFY, Step.MANUAL):
            return []
        self.session.touch()
        identity = event.identity
        if identity is None or identity.birth_date is None or not identity.family_name:
            self.notice = "identify.card_unreadable"
            self._go(Step.IDENTIFY, keep_notice=True)
            return []
        return self._identify(identity)

    def _card_removed(self) -> list[Effect]:
        """Taking the card out mid-check-in ends the session: the card was the patient's key."""
        identity = self.session.identity
        if self.step in PATIENT_STEPS and identity is not None and identity.source == "smartcard":
            self._reset()
        return []

    # --- agent answers --------------------------------------------------------------------------

    def agent_reachable(self, reachable: bool) -> list[Effect]:
        self.agent_online = reachable
        return []

    def board_updated(self, board: BoardState) -> list[Effect]:
        self.board = board
        self.agent_online = True
        return []

    def lookup_answered(self, response: LookupResponse) -> list[Effect]:
        if self.step is not Step.LOOKING_UP:
            return []
        self.agent_online = True
        if response.outcome == "none":
            self.session.misses += 1
            if self.session.misses < MISSES_BEFORE_DESK:
                self._keep_what_was_read()
                self._go(Step.NOT_FOUND)
                return []
        if response.outcome != "matched" or response.appointment is None:
            return self._see_desk(response.outcome)
        self.session.lookup = response
        self._go(Step.CONFIRM)
        return []

    def lookup_failed(self, unreachable: bool) -> list[Effect]:
        """The agent could not be reached (offline check-in) or refused the lookup (see the desk)."""
        if self.step is not Step.LOOKING_UP:
            return []
        if unreachable:
            self.agent_online = False
            self._go(Step.OFFLINE)
            return []
        return self._see_desk("refused")

    def checkin_answered(self, response: CheckinResponse, offline: bool) -> list[Effect]:
        """The agent's answer, or the spool's when the agent was away (the spool never fails)."""
        if self.step is not Step.SUBMITTING or response.checkin_id != self.session.checkin_id:
            return []
        self.agent_online = not offline
        language = self.language
        printer = self.printer_worth_trying
        already = ALREADY_CHECKED_IN in response.flags  # the agent's answer for a visit it has: nothing new stored
        self.ticket = Ticket(response.ticket, response.position, response.estimated_wait_min, offline,
                             on_screen=not printer, already=already,
                             insurance_see_desk=INSURANCE_SEE_DESK in response.flags)  # fmt: skip
        self.session.wipe(language=language)  # the ticket holds no patient data; the session goes now
        self._go(Step.DONE)
        self._done_at = self.session.clock()
        if printer:
            return [PrintTicket(response.ticket, response.position, response.estimated_wait_min, language)]
        return [RequestHelp(screen="done/printer", language=language), ReportHealth()]

    def checkin_refused(self) -> list[Effect]:
        """The agent turned the check-in down for good: the desk takes over, nothing half-done is kept."""
        if self.step is not Step.SUBMITTING:
            return []
        return self._see_desk("refused")

    def printed(self, ok: bool) -> list[Effect]:
        """The printer's verdict on the ticket: when it failed, show the ticket large and tell staff."""
        if self.step is not Step.DONE or self.ticket is None or self.ticket.printed or self.ticket.on_screen:
            return []
        if ok:
            self.ticket = replace(self.ticket, printed=True)
            return []
        self.ticket = replace(self.ticket, on_screen=True)
        self._done_at = self.session.clock()
        return [RequestHelp(screen="done/printer", language=self.language), ReportHealth()]

    def help_answered(self, delivered: bool) -> list[Effect]:
        if self.desk_call:
            self.desk_call = "sent" if delivered else "unreachable"
        if self.help:
            self.help = "sent" if delivered else "unreachable"
        if not delivered:
            self.agent_online = False
        return []

    # --- time -----------------------------------------------------------------------------------

    def tick(self) -> list[Effect]:
        """Called about once a second: idle warning, countdown, wipe; the ticket screen's end."""
        settings, session = self.settings, self.session
        if self.step is Step.DONE:
            on_screen = self.ticket is not None and self.ticket.on_screen
            if session.clock() - self._done_at >= (settings.done_on_screen_max_s if on_screen else settings.done_display_s):
                self._reset()
            return []
        if self.step not in PATIENT_STEPS:
            return []
        idle, timeout = session.idle_for(), self.idle_timeout_s
        if idle >= timeout + settings.idle_warning_s:
            self._reset()
        elif idle >= timeout:
            self.idle_warning_left = max(1, round(timeout + settings.idle_warning_s - idle))
        else:
            self.idle_warning_left = None  # touched again (scrolling a form counts)
        return []

    # --- transitions ----------------------------------------------------------------------------

    def _go(self, step: Step, keep_notice: bool = False) -> None:
        if step is not self.step:
            self.session.touch()  # each screen gets its own idle time
        self.step = step
        self.idle_warning_left = None
        self.help = ""
        self.desk_call = ""
        if not keep_notice:
            self.notice = ""

    def _reset(self) -> None:
        self.session.wipe(language=self.settings.default_language)
        self.ticket = None
        self._last_ticket = None
        self._go(Step.ATTRACT)

    def _keep_what_was_read(self) -> None:
        """A scanned identity that found nothing: put what was read into the typed fields to correct."""
        identity, typed = self.session.identity, self.session.typed
        if identity is None or identity.source == "manual":
            return
        typed.family = identity.family_name.upper() if identity.family_name else ""
        if identity.birth_date is not None:
            parts = {"D": f"{identity.birth_date.day:02d}", "M": f"{identity.birth_date.month:02d}", "Y": f"{identity.birth_date.year:04d}"}
            typed.birth_digits = "".join(parts[letter] for letter in self._date_order(self.language))

    def _identify(self, identity: Identity) -> list[Effect]:
        self.session.identity = identity
        self._go(Step.LOOKING_UP)
        request = LookupRequest(
            family=identity.family_name or None,
            given=identity.given_names,
            birth_date=identity.birth_date,
            identity_source=identity.source,
            reminder_token=self.session.reminder_token,
            language=self.language,
        )
        return [Lookup(request)]

    def _see_desk(self, reason: str) -> list[Effect]:
        self._go(Step.SEE_DESK)
        self.desk_call = "sent"
        self.session.lookup = None  # nothing of a wrong or doubtful match stays on the kiosk
        return [RequestHelp(screen=f"see_desk/{reason}", language=self.language)]

    def _after_confirm(self) -> list[Effect]:
        if self.on_file_hints.present:
            self._go(Step.REVIEW)
            return []
        return self._to_card_or_forms()

    def _to_card_or_forms(self) -> list[Effect]:
        """With a card scanner, "Do you have an insurance card?" once per session, then the forms."""
        if self.settings.card_scanner and not self.session.card_asked:
            self.session.card_asked = True
            self._go(Step.CARD_ASK)
            return []
        return self._to_forms()

    def _to_forms(self) -> list[Effect]:
        appointment = self.session.appointment
        self.session.form_index = 0
        self.session.signature_strokes = 0
        self.session.form_read_to_end = False
        if appointment is not None and appointment.forms_due:
            self._go(Step.FORMS)
            return []
        return self._submit()

    def _decide(self, form: FormDue, decision: str, signature: Signature | None) -> list[Effect]:
        language = self.form_language(form)
        self.session.consents.append(
            ConsentRecord(
                document_id=form.document_id,
                version=form.version,
                language=language,
                text_sha256=hashlib.sha256(form.text[language].encode("utf-8")).hexdigest(),  # what was shown
                decision=decision,
                signature=signature,
                signed_at=self._now(),
                kiosk_id=self.settings.kiosk_id,
            )
        )
        self.session.touch()
        self.session.signature_strokes = 0
        self.session.form_read_to_end = False
        self.session.form_index += 1
        if self.session.form_index < len(self.session.appointment.forms_due):
            self._go(Step.FORMS)
            return []
        return self._submit()

    def _submit(self) -> list[Effect]:
        session, identity = self.session, self.session.identity
        appointment = session.appointment
        request = CheckinRequest(
            checkin_id=session.checkin_id,
            kiosk_id=self.settings.kiosk_id,
            appointment_id=appointment.appointment_id if appointment else None,
            identity_source=identity.source,
            patient=PatientIdentity(family=identity.family_name, given=identity.given_names, birth_date=identity.birth_date),
            coverage=session.card_coverage or self.read_coverage(),
            insurance_card=session.card_scan,
            demographics=self.read_demographics(),
            details_changed=session.details_changed,
            details_reviewed=session.details_reviewed,
            reminder_token=session.reminder_token,
            consents=list(session.consents),
            language=self.language,
        )
        self._go(Step.SUBMITTING)
        return [SubmitCheckin(request)]

