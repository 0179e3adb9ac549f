"""Write one X12 270 eligibility inquiry (005010X279A1): one interchange, one group, one transaction.

    text = build_270(inquiry, parties, control_number, now)

Loops: 2000A information source (the payer, NM1*PR with its payer id), 2000B information receiver
(the clinic, NM1*1P with its NPI), 2000C subscriber (NM1*IL with the member id, DMG birth date,
DTP*291 date of service, TRN trace number so the 271 can be matched, one EQ per service type).
Control numbers: ISA13 = GS06 = ST02 = one number the store hands out once (see cache.next_control_number).
Nothing here checks the result: tools/x12_maps/validate.py does that, in the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .x12 import Delimiters, id_value, join_segment, text_value

VERSION = "005010X279A1"


@dataclass(frozen=True)
class Parties:
    sender_qualifier: str  # ISA05, e.g. "ZZ" mutually defined, "30" federal tax id
    sender_id: str  # ISA06 / GS02
    receiver_qualifier: str
    receiver_id: str  # ISA08 / GS03: the clearinghouse
    provider_name: str
    provider_npi: str
    originating_company_id: str  # TRN03: "9" + the clinic's 9-digit id (10 characters)
    usage: str = "P"  # ISA15: P production, T test


@dataclass(frozen=True)
class Inquiry:
    payer_name: str
    payer_id: str
    member_id: str
    family: str
    given: str
    birth_date: dt.date
    date_of_service: dt.date
    service_types: tuple[str, ...]
    trace: str  # TRN02: ours, echoed back in the 271
    visit_service_type: str = ""  # whose copay the answer is read for


def _fixed(value: str, width: int) -> str:
    return value[:width].ljust(width)


def build_270(inquiry: Inquiry, parties: Parties, control_number: int, now: dt.datetime) -> str:
    d = Delimiters()
    interchange = f"{control_number:09d}"
    transaction = f"{control_number % 10**9:04d}"

    def segment(*values: str) -> str:
        return join_segment(list(values), d)

    body = [
        segment("ST", "270", transaction, VERSION),
        segment("BHT", "0022", "13", inquiry.trace, now.strftime("%Y%m%d"), now.strftime("%H%M")),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", text_value(inquiry.payer_name, 60), "", "", "", "", "PI", id_value(inquiry.payer_id, 80)),
        segment("HL", "2", "1", "21", "1"),
        segment("NM1", "1P", "2", text_value(parties.provider_name, 60), "", "", "", "", "XX", id_value(parties.provider_npi, 10)),
        segment("HL", "3", "2", "22", "0"),
        segment("TRN", "1", inquiry.trace, parties.originating_company_id),
        segment("NM1", "IL", "1", text_value(inquiry.family, 60), text_value(inquiry.given, 35), "", "", "", "MI",
                id_value(inquiry.member_id, 80)),
        segment("DMG", "D8", inquiry.birth_date.strftime("%Y%m%d")),
        segment("DTP", "291", "D8", inquiry.date_of_service.strftime("%Y%m%d")),
        *(segment("EQ", code) for code in inquiry.service_types),
    ]
    body.append(segment("SE", str(len(body) + 1), transaction))
    envelope_head = [
        "ISA" + d.element + d.element.join([
            "00", _fixed("", 10), "00", _fixed("", 10),
            _fixed(parties.sender_qualifier, 2), _fixed(parties.sender_id, 15),
            _fixed(parties.receiver_qualifier, 2), _fixed(parties.receiver_id, 15),
            now.strftime("%y%m%d"), now.strftime("%H%M"), d.repetition, "00501", interchange, "0", parties.usage,
            d.component,
        ]) + d.segment,
        segment("GS", "HS", parties.sender_id, parties.receiver_id, now.strftime("%Y%m%d"), now.strftime("%H%M"),
                str(control_number), "X", VERSION),
    ]  # fmt: skip
    envelope_tail = [segment("GE", "1", str(control_number)), segment("IEA", "1", interchange)]
    return "\n".join(envelope_head + body + envelope_tail) + "\n"
