"""The HL7 v2.5.1 messages the agent sends: the arrival (ADT^A04 or ADT^A10) and an accepted demographics
change (ADT^A08), built as ER7 text with every value escaped.

Identifiers are CX with an assigning authority (CX.4) and a table 0203 type (CX.5):
- PID-3: the MRN from the schedule (`MR`, the central system's authority); a walk-in, who has none yet,
  gets a temporary id `PI` (patient internal identifier: unique within its assigning authority, here the
  site's; 0203 has no "temporary" code, and `PI` under the site's namespace says "ours, not your MRN").
- PV1-19: the check-in id as visit number (`VN`, the site's authority).
- IN1-3: the insurance company id, `XX` (organization identifier): the central system's id for the card's
  payor when the site maps it (`hl7_payer_ids`), otherwise a code made from the payor's name under the
  site's authority.
MSH-18 is `UNICODE UTF-8` whenever the text is not ASCII (empty MSH-18 means ASCII to a v2 receiver);
the bytes on the wire are UTF-8 either way.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Literal

from lobby_core.appointments import ScheduledAppointment
from lobby_core.contract import Address, CoverageInfo, Demographics
from lobby_core.outbox_events import CheckinV1, CheckinV2, PatientUpdateV1

VERSION = "2.5.1"
SENDING_APPLICATION = "LOBBY-CHECKIN"
UTF8 = "UNICODE UTF-8"
ENCODING_CHARACTERS = "^~\\&"
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("~", "\\R\\"), ("&", "\\T\\"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Message type (MSH-9) and EVN-1 per event; ADT_A09 is the structure of A10 (it has no IN1).
STRUCTURES = {"A04": "ADT_A01", "A08": "ADT_A01", "A10": "ADT_A09"}


@dataclass(frozen=True)
class Hl7Site:
    """Who sends, and the namespaces of the identifiers it writes."""

    facility: str  # MSH-4: the site id
    site_authority: str  # CX.4 of identifiers the site issues (walk-in ids, visit numbers)
    central_authority: str = ""  # CX.4 of the central system's MRNs and insurance company ids
    payer_ids: dict[str, str] = field(default_factory=dict)  # payor name (any case) -> central's company id
    arrival_event: Literal["A04", "A10"] = "A04"


def escape(value: object) -> str:
    """One value as ER7 text: separators escaped, line breaks and other control characters as spaces."""
    text = "" if value is None else str(value)
    for char, sequence in _ESCAPES:
        text = text.replace(char, sequence)
    return _CONTROL.sub(" ", text)


def composite(*components: object) -> str:
    """Components joined by ^, trailing empty ones dropped."""
    return "^".join(escape(c) for c in components).rstrip("^")


def identifier(value: str, authority: str, type_code: str) -> str:
    """A CX: ID^^^AUTHORITY^TYPE."""
    return composite(value, "", "", authority, type_code)


def segment(name: str, *fields: str) -> str:
    return "|".join((name, *fields)).rstrip("|")


def timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S%z")


def control_id(checkin_id: str, event: str = "") -> str:
    """MSH-10 (at most 20 characters): the first 80 bits of the check-in UUID, in hex, for the arrival;
    a name-based UUID of the check-in and the event for the messages that follow it. A resend carries the
    same id, so the receiver recognises it."""
    checkin = uuid.UUID(checkin_id)
    return (checkin if not event else uuid.uuid5(checkin, event)).hex[:20]


def walk_in_id(checkin_id: str) -> str:
    return "W" + uuid.UUID(checkin_id).hex[:19]


def payer_code(payor: str) -> str:
    """A stable code for a payor name the site has not mapped: ASCII letters and digits, dashes between words."""
    ascii_name = unicodedata.normalize("NFKD", payor).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[A-Za-z0-9]+", ascii_name)).upper()[:20] or "UNKNOWN"


def header(site: Hl7Site, event: str, sent_at: dt.datetime, message_control_id: str, body: list[str]) -> str:
    """The message: MSH (with MSH-18 when any text is not ASCII) + the segments, separated by CR."""
    charset = "" if all(s.isascii() for s in body) and site.facility.isascii() else UTF8
    msh = segment(
        "MSH", ENCODING_CHARACTERS, SENDING_APPLICATION, escape(site.facility), "", "", timestamp(sent_at), "",
        f"ADT^{event}^{STRUCTURES[event]}", message_control_id, "P", VERSION, "", "", "", "", "", charset,
    )  # fmt: skip
    return "\r".join([msh, *body])


def _address(address: Address | None) -> str:
    if address is None:
        return ""
    return composite(address.street, "", address.city, address.state, address.postal_code, address.country)


def _telecom(demographics: Demographics | None) -> str:
    if demographics is None:
        return ""
    entries = []
    if demographics.phone:
        entries.append(composite(demographics.phone, "PRN", "PH"))
    if demographics.email:
        entries.append(composite("", "NET", "Internet", demographics.email))
    return "~".join(entries)


def _pid(patient_id: str, family: str, given: str, birth_date: dt.date | None, demographics: Demographics | None) -> str:
    return segment(
        "PID", "1", "", patient_id, "", composite(family, given), "",
        birth_date.strftime("%Y%m%d") if birth_date else "", "", "", "",
        _address(demographics.address if demographics else None), "", _telecom(demographics),
    )  # fmt: skip


def _pv1(site: Hl7Site, checkin_id: str, appointment: ScheduledAppointment | None, arrived: dt.datetime | None) -> str:
    location, clinician = (appointment.location, appointment.clinician) if appointment else ("", "")
    fields = ["1", "O", composite(location), "", "", "", composite("", clinician)] + [""] * 11
    fields += [identifier(checkin_id, site.site_authority, "VN")] + [""] * 24
    fields += [timestamp(arrived) if arrived else ""]  # PV1-44 admit date/time
    return segment("PV1", *fields)


def _in1(site: Hl7Site, card: CoverageInfo) -> str:
    mapped = {name.casefold(): company for name, company in site.payer_ids.items()}.get(card.payor.casefold())
    company = (
        identifier(mapped, site.central_authority, "XX")
        if mapped
        else identifier(payer_code(card.payor), site.site_authority, "XX")
    )
    fields = [""] * 36
    fields[0] = "1"
    fields[1] = composite("", card.plan or card.payor or "unknown")  # IN1-2 plan (required; text only)
    fields[2] = company  # IN1-3 insurance company id
    fields[3] = composite(card.payor)  # IN1-4 insurance company name
    fields[7] = escape(card.group)  # IN1-8 group number (the card has no group name for IN1-9)
    fields[12] = card.valid_until.strftime("%Y%m%d") if card.valid_until else ""  # IN1-13 plan expiration
    fields[35] = escape(card.member_id)  # IN1-36 policy number
    return segment("IN1", *fields)


def _patient_identifier(site: Hl7Site, appointment: ScheduledAppointment | None, checkin_id: str) -> str:
    if appointment and appointment.mrn:
        return identifier(appointment.mrn, site.central_authority, "MR")
    if appointment and appointment.patient_id:
        return identifier(appointment.patient_id, site.central_authority, "PI")
    return identifier(walk_in_id(checkin_id), site.site_authority, "PI")


def arrival(checked_in: CheckinV1, site: Hl7Site) -> str:
    """The arrival (ADT^A04 register outpatient, or ADT^A10 patient arriving) for one `checkin.v1` event."""
    checkin, appointment, arrived = checked_in.checkin, checked_in.appointment, checked_in.arrived_at
    checkin_id = str(checkin.checkin_id)
    event = site.arrival_event
    body = [
        segment("EVN", event, timestamp(arrived)),
        _pid(_patient_identifier(site, appointment, checkin_id), checkin.patient.family, checkin.patient.given,
             checkin.patient.birth_date, checkin.demographics),
        _pv1(site, checkin_id, appointment, arrived),
    ]  # fmt: skip
    # a scanned card (checkin.v2) says the payer, member id, group and plan; else what the kiosk sent
    card = (checked_in.card_coverage if isinstance(checked_in, CheckinV2) else None) or checkin.coverage
    if event == "A04" and card is not None and (card.payor or card.member_id):
        body.append(_in1(site, card))
    return header(site, event, arrived, control_id(checkin_id), body)


def demographics_update(update: PatientUpdateV1, site: Hl7Site, sent_at: dt.datetime) -> str:
    """The ADT^A08 (update patient information) for one `patient_update.v1` event: the patient's
    identifier, name and birth date (which a v2 receiver needs to find the patient) and the new address
    and telecom. Raises ValueError for an event queued without the patient's name (older agents')."""
    patient, demographics = update.patient, update.demographics
    if patient is None:
        raise ValueError("a patient update queued without the patient's name and birth date")
    if demographics.address is None and not demographics.phone and not demographics.email:
        raise ValueError("a patient update without an address, phone or email")
    checkin_id = update.checkin_id
    patient_id = (
        identifier(update.mrn, site.central_authority, "MR")
        if update.mrn
        else identifier(update.patient_id, site.central_authority, "PI")
    )
    body = [
        segment("EVN", "A08", timestamp(sent_at)),
        _pid(patient_id, patient.family, patient.given, patient.birth_date, demographics),
        _pv1(site, checkin_id, None, None),
    ]
    return header(site, "A08", sent_at, control_id(checkin_id, "demographics"), body)
