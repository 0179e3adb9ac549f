"""SIU messages of the shapes practice-management systems send (v2.5.1, structure SIU_S12), as ER7 text.

Every builder here makes a message hl7apy accepts at the strict level (tests/hl7v2/test_siu_samples.py
checks each one), so the feed is tested against real shapes, not against what it happens to accept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edge_agent.central.hl7_messages import UTF8, composite, segment


@dataclass(frozen=True)
class Patient:
    mrn: str
    family: str
    given: str
    birth_date: str  # YYYYMMDD
    street: str = "12 Elm St"
    city: str = "Springfield"
    phone: str = "555-0101"


GARCIA = Patient("MRN2001", "García López", "María José", "19560314", "Calle Mayor 5", "Sevilla")
ZOE = Patient("MRN2002", "Kowalski", "Zoë", "20010509")
JOAO = Patient("MRN2003", "Da Silva Santos", "João Pedro", "19681201", "Rua Augusta 10", "Lisboa")
WANG = Patient("MRN2004", "王", "秀英", "19770203", "人民路 8号", "上海")
NGUYEN = Patient("MRN2005", "Nguyễn", "Anh", "19900721", "12 Lê Lợi", "Hà Nội")
OBRIEN = Patient("MRN2006", "O'Brien|Smith", "Aoife & Co", "19580309")  # separators in the data


def ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S%z")


def msh(event: str, control_id: str, text: list[str]) -> str:
    charset = "" if all(s.isascii() for s in text) else UTF8
    return segment("MSH", "^~\\&", "PM-SYSTEM", "CENTRAL", "LOBBY-CHECKIN", "test-site", "20260301080000",
                   "", f"SIU^{event}^SIU_S12", control_id, "P", "2.5.1", "", "", "", "", "", charset)  # fmt: skip


def sch(placer: str, filler: str, start: dt.datetime | None, status: str = "Booked") -> str:
    timing = composite("", "", "30", ts(start)) if start else ""
    return segment(
        "SCH", composite(placer, "PLACER") if placer else "", composite(filler, "PM") if filler else "", "", "", "",
        composite("ROUTINE", "Routine visit", "L"), composite("CHK", "Check-up"), composite("FOLLOWUP"),
        "30", composite("min"), timing, "", "", "", "", composite("1001", "Front", "Desk"), "", "", "",
        composite("1001", "Front", "Desk"), "", "", "", "", composite(status),
    )  # fmt: skip


def pid(p: Patient) -> str:
    return segment(
        "PID", "1", "", f"{composite(p.mrn, '', '', 'PM', 'MR')}~{composite('998877', '', '', 'SSA', 'SS')}", "",
        composite(p.family, p.given), "", p.birth_date, "F", "", "", composite(p.street, "", p.city, "IL", "62701", "USA"),
        "", f"{composite(p.phone, 'PRN', 'PH')}~{composite('', 'NET', 'Internet', 'patient@example.org')}",
    )  # fmt: skip


def pv1(location: str = "Suite 2") -> str:
    return segment("PV1", "1", "O", composite("CLINIC", location))


def resources(start: dt.datetime, clinicians: list[tuple[str, str, str]], locations: list[str], general: bool = True) -> list[str]:
    """RGS, AIS, then repeating AIG / AIL / AIP (each resource with its own start time)."""
    out = [segment("RGS", "1", "A"), segment("AIS", "1", "A", composite("99213", "Office visit", "C4"), ts(start), "", "", "30", "min")]
    if general:
        out.append(segment("AIG", "1", "A", composite("ECG-1", "ECG machine"), composite("EQUIP"), "", "", "", ts(start)))
    for n, room in enumerate(locations, 1):
        out.append(segment("AIL", str(n), "A", composite("CLINIC", room, "", "", "", "", "", "", room), "", "", ts(start)))
    for n, (npi, family, given) in enumerate(clinicians, 1):
        out.append(segment("AIP", str(n), "A", composite(npi, family, given, "", "", "Dr."), composite("D", "Doctor"), "", ts(start)))
    return out


def siu(
    event: str,
    control_id: str,
    start: dt.datetime | None,
    *,
    placer: str = "",
    filler: str = "",
    patient: Patient | None = None,
    with_pv1: bool = True,
    clinicians: list[tuple[str, str, str]] | None = None,
    locations: list[str] | None = None,
    general: bool = True,
    z_segments: bool = False,
    sch_timing: bool = True,
) -> str:
    """One SIU^<event> message; the resources' starts are `start` (SCH-11 too unless `sch_timing` is off)."""
    when = start or dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
    body = [sch(placer, filler, start if sch_timing else None)]
    if z_segments:
        body.append(segment("ZSC", "1", "SELF-PAY", "Y"))
    if patient is not None:
        body.append(pid(patient))
        if with_pv1:
            body.append(pv1())
    body += resources(when, clinicians if clinicians is not None else [("1234567890", "Patel", "Asha")],
                      locations if locations is not None else ["Room 1"], general)  # fmt: skip
    if z_segments:
        body.append(segment("ZAP", "1", composite("PORTAL", "Booked online")))
    return "\r".join([msh(event, control_id, body), *body])
