"""Card file parsing straight against the virtual cards' APDU handling (no reader): damaged and partial data."""

from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st

from kiosk.devices import egk
from kiosk.devices.cards import NOT_SUPPORTED, UNREADABLE, read_identity
from kiosk.devices.eid import birth_date, parse_tlv
from kiosk.simulators.virtual_card import EGK_AID, egk_card, eid_card, other_card


def transmit_to(card):
    def transmit(apdu: list[int]) -> tuple[list[int], int, int]:
        response = card.respond(bytes(apdu))
        return list(response[:-2]), response[-2], response[-1]

    return transmit


def test_each_card_kind_reads_without_a_reader():
    assert read_identity(transmit_to(egk_card()))[0].member_id == "X110411675"
    assert read_identity(transmit_to(eid_card()))[0].postal_code == "1000"
    assert read_identity(transmit_to(other_card())) == (None, NOT_SUPPORTED)


def test_damaged_health_card_data_is_unreadable_not_half_read():
    card = egk_card()
    pd = card.applications[EGK_AID][1]
    card.applications[EGK_AID][1] = pd[:2] + b"\x1f\x8b" + b"\x00" * (len(pd) - 4)  # gzip header, no data
    assert read_identity(transmit_to(card)) == (None, UNREADABLE)


def test_health_card_without_insurance_data_still_identifies():
    card = egk_card()
    card.applications[EGK_AID][2] = struct.pack(">HHHH", 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)
    identity, problem = read_identity(transmit_to(card))
    assert problem == "" and identity.family_name == "Müßig-Testfall" and identity.payor == ""


def test_eid_tlv_and_birth_dates_in_every_card_language():
    assert parse_tlv(b"\x07\x03ABC\x08\x02DE\x00\xff") == {0x07: "ABC", 0x08: "DE"}
    assert parse_tlv(b"\x07\x09short") == {}  # a length running past the data ends the parse
    long_value = "x" * 200
    assert parse_tlv(b"\x01\xc8\x01" + long_value.encode()) == {0x01: long_value}
    for text, month in (("15 JUIL 1985", 7), ("15.MEI.1985", 5), ("15 MÄR 1985", 3), ("15 AUG 1985", 8)):
        assert birth_date(text).month == month
    assert birth_date("15 XYZ 1985") is None and birth_date("") is None


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_tlv_parser_survives_any_bytes(data):
    assert isinstance(parse_tlv(data), dict)


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_health_card_xml_either_reads_or_is_called_unreadable(data):
    try:
        egk.identity_from_xml(data)
    except egk.CardDataError:
        pass
