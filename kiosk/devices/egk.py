"""German electronic health card (eGK): personal data (EF.PD) and insurance data (EF.VD) as an Identity."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from xml.etree import ElementTree

from .apdu import Transmit, read_binary, read_exactly, select_application
from .identity import Identity

HEALTH_CARE_APPLICATION = bytes.fromhex("D27600000102")
EF_PD, EF_VD = 1, 2
SEX = {"M": "M", "W": "F", "X": "X", "D": "X"}


class CardDataError(ValueError):
    """The card's files are not what the eGK specification says."""


def read(transmit: Transmit) -> Identity:
    select_application(transmit, HEALTH_CARE_APPLICATION)
    pd_length = struct.unpack(">H", read_binary(transmit, 0, 2, short_file_id=EF_PD))[0]
    personal = _gunzip(read_exactly(transmit, 2, pd_length))
    header = read_binary(transmit, 0, 8, short_file_id=EF_VD)
    vd_start, vd_end = struct.unpack(">HH", header[:4])
    insurance = b""
    if vd_start != 0xFFFF and vd_end >= vd_start:
        insurance = _gunzip(read_exactly(transmit, vd_start, vd_end - vd_start + 1))
    return identity_from_xml(personal, insurance)


def _gunzip(data: bytes) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(data)  # tolerates the padding after the gzip member
    except zlib.error as exc:
        raise CardDataError("eGK data is not gzip") from exc


def _values(xml: bytes) -> dict[str, str]:
    """Element text by local name (namespaces differ between eGK schema versions); first one wins."""
    if not xml:
        return {}
    try:
        root = ElementTree.fromstring(xml)  # honours the ISO-8859-15 declaration
    except ElementTree.ParseError as exc:
        raise CardDataError("eGK XML is malformed") from exc
    values: dict[str, str] = {}
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if element.text and element.text.strip() and name not in values:
            values[name] = element.text.strip()
    return values


def identity_from_xml(personal: bytes, insurance: bytes = b"") -> Identity:
    pd, vd = _values(personal), _values(insurance)
    street = " ".join(part for part in (pd.get("Strasse", ""), pd.get("Hausnummer", "")) if part)
    given = " ".join(part for part in (pd.get("Vorname", ""),) if part)
    family = " ".join(part for part in (pd.get("Namenszusatz", ""), pd.get("Vorsatzwort", ""), pd.get("Nachname", "")) if part)
    return Identity(
        source="smartcard",
        family_name=family,
        given_names=given,
        birth_date=_date(pd.get("Geburtsdatum", "")),
        sex=SEX.get(pd.get("Geschlecht", ""), ""),
        address_street=street,
        address_city=pd.get("Ort", ""),
        postal_code=pd.get("Postleitzahl", ""),
        country="DEU" if pd.get("Wohnsitzlaendercode", "D") == "D" else pd.get("Wohnsitzlaendercode", ""),
        document_number=pd.get("Versicherten_ID", ""),
        member_id=pd.get("Versicherten_ID", ""),
        payor=vd.get("Name", ""),
        payor_id=vd.get("Kostentraegerkennung", ""),
        language="de",
        extra={"card": "egk"},
    )


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None
