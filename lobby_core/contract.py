"""The kiosk API's wire contract: every body the kiosk and the agent exchange, in one module.

Both apps import it, so it must stay free of either side's dependencies. Changing a model here
changes the API: bump API_VERSION for anything incompatible.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, StringConstraints, model_validator

API_VERSION = "1"
SERVICE_TYPE = "_clinic-checkin._tcp.local."
# During an agent certificate rotation, a heartbeat's answer names the next certificate's SHA-256 here.
NEXT_FINGERPRINT_HEADER = "Agent-Next-Fingerprint"
SERVED_FINGERPRINT_HEADER = "Agent-Fingerprint"  # the certificate new connections get (an open one may be older)

IdentitySource = Literal["aamva", "smartcard", "qr", "manual"]
# A BCP 47 tag in its canonical case: language, optional script, optional region ("en", "zh-Hant", "pt-BR").
LANGUAGE_TAG = r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$"
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_TAG)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Ticket = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{0,3}-[0-9]{3,4}$")]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- identity and lookup -------------------------------------------------------------------------


class Address(Wire):
    street: ShortText = ""
    city: ShortText = ""
    state: ShortText = ""
    postal_code: ShortText = ""
    country: ShortText = ""


class Demographics(Wire):
    """Contact details as read from an ID/card or as held on file."""

    address: Address | None = None
    phone: ShortText = ""
    email: ShortText = ""


class LookupRequest(Wire):
    # Needed unless a reminder QR token is sent: a valid reminder plus the birth date names one patient.
    family: Name | None = None
    given: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    birth_date: dt.date
    identity_source: IdentitySource = "manual"
    # The signed token from an appointment-reminder QR code, if the patient scanned one.
    reminder_token: Annotated[str, StringConstraints(max_length=2000)] | None = None
    language: Language = "en"

    @model_validator(mode="after")
    def _family_or_reminder(self) -> "LookupRequest":
        if not self.family and not self.reminder_token:
            raise ValueError("family is required unless a reminder_token is sent")
        return self


class CoverageInfo(Wire):
    payor: ShortText = ""
    member_id: ShortText = ""
    group: ShortText = ""
    plan: ShortText = ""
    valid_until: dt.date | None = None
    source: Literal["card", "file", "manual"] = "card"


# --- a plastic insurance card scanned at the kiosk (kiosk/card_capture) ---------------------------

CardFieldName = Literal["payer_name", "member_id", "group_number", "plan", "subscriber_name", "rx_bin", "rx_pcn",
                        "rx_group", "copay_pcp", "copay_specialist", "copay_er", "payer_phone"]  # fmt: skip
MAX_CARD_IMAGE_BYTES = 2_000_000  # one side as JPEG; a 300 dpi ID-1 card is about 100-300 kB
CardImage = Annotated[Base64Bytes, Field(min_length=100, max_length=MAX_CARD_IMAGE_BYTES)]


class CardFieldReading(Wire):
    value: ShortText = ""  # "": not on the card, or not readable
    needs_review: bool = False  # read with low confidence, or a label without a readable value: the desk checks
    corrected: bool = False  # the patient typed this value over what was read


class InsuranceCardScan(Wire):
    """Both sides of the card as JPEG (base64 on the wire), and each field as the patient confirmed it.
    The kiosk also sends the confirmed payer, member id, group and plan as the check-in's `coverage`."""

    front_jpeg: CardImage
    back_jpeg: CardImage | None = None
    fields: dict[CardFieldName, CardFieldReading] = {}


class FormDue(Wire):
    """A consent document the patient must read and sign, with its exact text per language."""

    document_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    version: ShortText
    title: dict[Language, ShortText]
    text: dict[Language, str]
    sha256: dict[Language, Sha256Hex]
    may_decline: bool = False
    require_scroll_to_end: bool = False  # the kiosk enables signing only once the end was shown


class OnFileHints(Wire):
    """What the kiosk may show of the details on file, for "Is this still right?": endings only.

    Enough for the patient to recognise their own details, useless to someone who knows a surname and a
    birth date: never the full street, phone, member id or birth date (edge_agent.matching.on_file_hints).
    """

    street_ending: Annotated[str, StringConstraints(max_length=2)] = ""  # last digits of the street line: "12"
    phone_ending: Annotated[str, StringConstraints(max_length=2)] = ""  # "42"
    member_id_ending: Annotated[str, StringConstraints(max_length=3)] = ""  # "303"
    payer: ShortText = ""  # the insurer's name ("Blue Harbor Health"), without the member id

    @property
    def present(self) -> bool:
        return bool(self.street_ending or self.phone_ending or self.member_id_ending or self.payer)


class AppointmentMatch(Wire):
    """The one appointment that matched. Only this patient's own details, never anyone else's, and of
    those only what "Is this you?" and "Is this still right?" need (a name like "Maria G.", endings)."""

    appointment_id: ShortText
    start: dt.datetime
    clinician: ShortText
    location: ShortText
    display_name: ShortText  # e.g. "Maria G." for "Is this you?"
    new_patient: bool = False
    on_file: OnFileHints = OnFileHints()
    forms_due: list[FormDue] = []
    # The patient's preferred language on file, a BCP 47 tag as the record has it ("vi", "zh-TW"): the
    # kiosk offers the closest site language first.
    preferred_language: Annotated[str, StringConstraints(max_length=35, pattern=r"^[A-Za-z0-9-]*$")] = ""


class LookupResponse(Wire):
    outcome: Literal["matched", "none", "ambiguous"]
    appointment: AppointmentMatch | None = None


# --- signatures, consents, check-in -------------------------------------------------------------


class PenPoint(Wire):
    """One sample of a signature: millimetres from the top-left of the signing area, ms from start."""

    x_mm: float
    y_mm: float
    t_ms: Annotated[int, Field(ge=0)]
    pressure: Annotated[float, Field(ge=0, le=1)] | None = None


class Stroke(Wire):
    points: Annotated[list[PenPoint], Field(max_length=5000)]


class Signature(Wire):
    """Strokes between pen-down and pen-up, on a signing area of the given size."""

    width_mm: Annotated[float, Field(gt=0, le=1000)]
    height_mm: Annotated[float, Field(gt=0, le=1000)]
    strokes: Annotated[list[Stroke], Field(max_length=200)]
    device: Literal["pad", "touch"]


class ConsentRecord(Wire):
    document_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    version: ShortText
    language: Language
    text_sha256: Sha256Hex
    decision: Literal["accepted", "declined"]
    signature: Signature | None = None  # required when accepted
    signed_at: dt.datetime
    kiosk_id: ShortText


class Answer(Wire):
    """An intake answer; becomes a QuestionnaireResponse item."""

    link_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    text: ShortText = ""
    value: bool | int | float | Annotated[str, StringConstraints(max_length=1000)] | None = None


class PatientIdentity(Wire):
    family: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]  # "" only with a reminder
    given: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    birth_date: dt.date


class OfflineSpool(Wire):
    """Set when the kiosk checked the patient in while the agent was unreachable."""

    kiosk_ticket: Ticket
    spooled_at: dt.datetime


class CheckinRequest(Wire):
    checkin_id: uuid.UUID
    kiosk_id: ShortText
    appointment_id: ShortText | None  # None: no appointment matched (offline or sent to the desk)
    identity_source: IdentitySource
    patient: PatientIdentity
    # As read from the insurance card / the ID, whenever there is one: the agent compares them with the
    # file and flags changes for the desk (the kiosk holds no file data to compare with).
    coverage: CoverageInfo | None = None
    demographics: Demographics | None = None
    insurance_card: InsuranceCardScan | None = None  # a scanned plastic card, when the patient had one
    details_changed: bool = False  # the patient answered "something changed" to the on-file hints
    # The patient answered the on-file hints at all ("Yes, that's right" or "Something changed"). False
    # (the default, as in check-ins spooled before this field): no confirmation is recorded.
    details_reviewed: bool = False
    # The reminder QR the patient scanned: with it, the birth date alone is the identity (no family name).
    reminder_token: Annotated[str, StringConstraints(max_length=2000)] | None = None
    consents: Annotated[list[ConsentRecord], Field(max_length=20)] = []
    answers: Annotated[list[Answer], Field(max_length=100)] = []
    language: Language = "en"
    offline: OfflineSpool | None = None

    @model_validator(mode="after")
    def _family_or_reminder(self) -> "CheckinRequest":
        if not self.patient.family and not self.reminder_token:
            raise ValueError("patient.family is required unless a reminder_token is sent")
        return self


class CheckinResponse(Wire):
    checkin_id: uuid.UUID
    ticket: Ticket
    position: Annotated[int, Field(ge=0)]
    estimated_wait_min: Annotated[int, Field(ge=0)]
    # Only flags that come from what the kiosk itself sent (edge_agent.checkin.KIOSK_FLAGS): never one
    # computed from the file (changed, mismatch, no appointment), which would tell the kiosk what is on it.
    # The one exception is `insurance_see_desk`: today's eligibility answer says inactive, and the kiosk
    # only shows "Please see the front desk about your insurance".
    flags: list[str] = []


# --- queue, board, kiosk health ------------------------------------------------------------------

ArrivalStatus = Literal["waiting", "called", "roomed", "done", "no_show"]


class BoardCall(Wire):
    ticket: Ticket
    room: ShortText = ""
    called_at: dt.datetime


class BoardState(Wire):
    """What the lobby board and the kiosk's attract screen show: tickets only, never names."""

    clinic_name: ShortText
    now_calling: list[BoardCall]
    waiting: list[Ticket]
    languages: list[Language]
    updated_at: dt.datetime


class DeviceHealth(Wire):
    name: ShortText
    kind: ShortText
    state: Literal["online", "offline", "degraded", "unknown"]
    reason: ShortText = ""


class Heartbeat(Wire):
    kiosk_id: ShortText
    app_version: ShortText = ""
    devices: list[DeviceHealth] = []
    spool_depth: Annotated[int, Field(ge=0)] = 0
    screen: ShortText = ""
    # The agent certificate fingerprints this kiosk trusts now (its pins): tells the agent, during a TLS
    # certificate rotation, which kiosks already accept the next certificate.
    trusted_fingerprints: Annotated[list[Sha256Hex], Field(max_length=4)] = []


class HelpRequest(Wire):
    kiosk_id: ShortText
    screen: ShortText = ""
    language: Language = "en"


class Problem(Wire):
    """Every error answer: a stable code, a sentence for people, and the offending field if any."""

    error: str
    message: str
    field: str | None = None


# --- remote support (no PHI: tickets, device states, allow-listed log fields, the attract screen) -------

SupportAction = Literal["print_test_ticket", "device_check", "restart", "logs", "screenshot"]
SUPPORT_ACTIONS: tuple[str, ...] = ("print_test_ticket", "device_check", "restart", "logs", "screenshot")
SupportOutcome = Literal["ok", "refused", "failed"]
MAX_SUPPORT_LOG_LINES = 500
MAX_SUPPORT_RESULT_BYTES = 4_000_000  # a base64 PNG of a 1080x1920 attract screen is well below


class SupportCommand(Wire):
    """One command staff queued for this kiosk; it must be carried out before `expires_at`."""

    id: int
    action: SupportAction
    lines: Annotated[int, Field(ge=1, le=MAX_SUPPORT_LOG_LINES)] = 100  # for `logs`
    expires_at: dt.datetime


class SupportCommands(Wire):
    """`GET /api/v1/kiosk/commands`: what is waiting for the kiosk whose token asked (possibly none)."""

    commands: list[SupportCommand]


LogValue = str | int | float | bool | None


class SupportLogLine(Wire):
    ts: ShortText
    level: ShortText
    logger: ShortText
    msg: Annotated[str, StringConstraints(max_length=300)]
    fields: dict[str, LogValue] = {}


class SupportResult(Wire):
    """`POST /api/v1/kiosk/commands/{id}/result`. `reason` is a code (e.g. `patient_session`), never data."""

    outcome: SupportOutcome
    reason: ShortText = ""
    devices: list[DeviceHealth] = []
    log_lines: Annotated[list[SupportLogLine], Field(max_length=MAX_SUPPORT_LOG_LINES)] = []
    screenshot_png: Annotated[str, StringConstraints(max_length=MAX_SUPPORT_RESULT_BYTES)] = ""  # base64
