"""Belgian eID: the identity and address files (simple TLV) as an Identity."""

from __future__ import annotations

import datetime as dt
import re

from .apdu import Transmit, read_whole_file, select_path
from .identity import Identity

IDENTITY_FILE = bytes.fromhex("3F00DF014031")
ADDRESS_FILE = bytes.fromhex("3F00DF014033")

# Birth dates are printed in the card holder's language: "15 JUIL 1985", "01.MEI.1970", "03 MÄR 1990".
MONTHS = {
    "JAN": 1, "FEV": 2, "FEB": 2, "MARS": 3, "MAR": 3, "MAAR": 3, "MÄR": 3, "AVR": 4, "APR": 4, "MAI": 5,
    "MEI": 5, "MAY": 5, "JUIN": 6, "JUN": 6, "JUIL": 7, "JUL": 7, "AOUT": 8, "AOÛT": 8, "AUG": 8, "SEPT": 9,
    "SEP": 9, "OCT": 10, "OKT": 10, "NOV": 11, "DEC": 12, "DÉC": 12, "DEZ": 12,
}
SEX = {"M": "M", "F": "F", "V": "F", "W": "F"}


def read(transmit: Transmit) -> Identity:
    select_path(transmit, IDENTITY_FILE)
    identity = parse_tlv(read_whole_file(transmit))
    select_path(transmit, ADDRESS_FILE)
    address = parse_tlv(read_whole_file(transmit))
    return identity_from_files(identity, address)


def parse_tlv(data: bytes) -> dict[int, str]:
    """Tag (1 byte), length (7 bits per byte, high bit = more), value; a zero tag or short data ends it."""
    fields: dict[int, str] = {}
    index = 0
    while index < len(data):
        tag = data[index]
        index += 1
        if tag == 0:
            break
        length, shift = 0, 0
        while index < len(data):
            byte = data[index]
            index += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if index + length > len(data):
            break
        fields[tag] = data[index : index + length].decode("utf-8", "replace")
        index += length
    return fields


def identity_from_files(identity: dict[int, str], address: dict[int, str]) -> Identity:
    return Identity(
        source="smartcard",
        family_name=identity.get(0x07, ""),
        given_names=" ".join(part for part in (identity.get(0x08, ""), identity.get(0x09, "")) if part),
        birth_date=birth_date(identity.get(0x0C, "")),
        sex=SEX.get(identity.get(0x0D, "").upper()[:1], ""),
        address_street=address.get(0x01, ""),
        postal_code=address.get(0x02, ""),
        address_city=address.get(0x03, ""),
        country="BEL",
        document_number=identity.get(0x01, ""),
        expiry_date=_numeric_date(identity.get(0x04, "")),
        extra={"card": "eid", "national_number": identity.get(0x06, "")},
    )


def birth_date(text: str) -> dt.date | None:
    match = re.fullmatch(r"\s*(\d{1,2})[ .]+([^\d .]+)\.?[ .]+(\d{4})\s*", text)
    if not match:
        return None
    month = MONTHS.get(match.group(2).upper())
    try:
        return dt.date(int(match.group(3)), month, int(match.group(1))) if month else None
    except ValueError:
        return None


def _numeric_date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text.strip(), "%d.%m.%Y").date()
    except ValueError:
        return None
