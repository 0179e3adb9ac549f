"""Every message the HL7 v2 connector builds is strictly valid v2.5.1 (hl7apy), for names and addresses in
several scripts, walk-ins, with and without a card; the fields receivers were missing are where v2.5.1
puts them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import hl7
import pytest

from edge_agent.central.hl7_messages import Hl7Site, arrival, control_id, demographics_update, payer_code
from lobby_core.appointments import ScheduledAppointment
from lobby_core.contract import Address, Demographics
from lobby_core.outbox_events import CheckinV1, CheckinV2, PatientUpdateV1
from tests.sync.conftest import checkin_payload

from .validation import strict_problems, strictly_valid

SITE = Hl7Site("test-site", "RIVERSIDE", "PM", {"Acme Health": "ACME-0042"})
NAMES = {  # family, given, street, city
    "ascii": ("O'Brien|Smith", "Aoife^Mary", "1 Oak Ave & Elm~St", "Springfield"),
    "spanish": ("García López", "María José", "Calle Mayor 5", "Sevilla"),
    "polish": ("Kowalski", "Zoë", "ul. Długa 3", "Gdańsk"),
    "portuguese": ("Da Silva Santos", "João Pedro", "Rua Augusta 10", "Lisboa"),
    "chinese": ("王", "秀英", "人民路 8号", "上海"),
    "vietnamese": ("Nguyễn", "Anh", "12 Lê Lợi", "Hà Nội"),
}


def scheduled(family: str, given: str, street: str, city: str) -> ScheduledAppointment:
    return ScheduledAppointment(
        appointment_id="siu-F100", start=dt.datetime.now(dt.timezone.utc), clinician="Dr. Asha Patel",
        location="Room 1", patient_id="MRN2001", family=family, given=given, birth_date=dt.date(1956, 3, 14),
        demographics=Demographics(address=Address(street=street, city=city, postal_code="62701", country="USA")),
        mrn="MRN2001",
    )  # fmt: skip


def payload_for(script: str, *, walk_in: bool, with_card: bool) -> CheckinV1:
    family, given, street, city = NAMES[script]
    payload = checkin_payload(None if walk_in else scheduled(family, given, street, city), with_card=with_card)
    payload["checkin"]["patient"].update(family=family, given=given)
    payload["checkin"]["demographics"]["address"].update(street=street, city=city)
    return CheckinV1.model_validate(payload)


@pytest.mark.parametrize("event", ["A04", "A10"])
@pytest.mark.parametrize("with_card", [True, False], ids=["card", "no-card"])
@pytest.mark.parametrize("walk_in", [False, True], ids=["scheduled", "walk-in"])
@pytest.mark.parametrize("script", NAMES)
def test_every_arrival_is_strictly_valid_and_carries_the_patient(script, walk_in, with_card, event):
    payload = payload_for(script, walk_in=walk_in, with_card=with_card)
    text = arrival(payload, dataclasses.replace(SITE, arrival_event=event))
    message = strictly_valid(text)
    parsed = hl7.parse(text)
    family, given, street, city = NAMES[script]
    assert str(parsed.segment("MSH")[9]) == f"ADT^{event}^{'ADT_A01' if event == 'A04' else 'ADT_A09'}"
    assert message.msh.msh_12.value == "2.5.1"
    assert (message.msh.msh_18.value == "UNICODE UTF-8") == (script != "ascii")
    text.encode("ascii" if script == "ascii" else "utf-8")
    pid = parsed.segment("PID")
    assert parsed.unescape(str(pid[5][0][0])) == family and parsed.unescape(str(pid[5][0][1])) == given
    assert parsed.unescape(str(pid[11][0][0])) == street and parsed.unescape(str(pid[11][0][2])) == city
    checkin_id = str(payload.checkin.checkin_id)
    if walk_in:
        assert [str(c) for c in pid[3][0]] == [f"W{uuid.UUID(checkin_id).hex[:19]}", "", "", "RIVERSIDE", "PI"]
    else:
        assert [str(c) for c in pid[3][0]] == ["MRN2001", "", "", "PM", "MR"]
    assert str(parsed.segment("PV1")[19]) == f"{checkin_id}^^^RIVERSIDE^VN"
    has_in1 = any(str(s[0]) == "IN1" for s in parsed)
    assert has_in1 == (with_card and event == "A04")  # ADT_A09 (A10) has no IN1


def test_the_card_goes_where_v251_puts_it():
    text = arrival(payload_for("spanish", walk_in=False, with_card=True), SITE)
    in1 = strictly_valid(text).children.get("ADT_A01_INSURANCE")[0].in1
    assert in1.in1_3.to_er7() == "ACME-0042^^^PM^XX"  # the site's mapping of the card's payor
    assert in1.in1_4.to_er7() == "Acme Health"
    assert in1.in1_8.to_er7() == "G-1"  # group number; no group name is known, so no IN1-9
    assert in1.in1_9.to_er7() == ""
    assert in1.in1_13.to_er7() == "20271231"
    assert in1.in1_36.to_er7() == "M1234567"


def test_an_unmapped_payor_gets_a_code_under_the_site_authority():
    event = payload_for("ascii", walk_in=True, with_card=True)
    card = event.checkin.coverage.model_copy(update={"payor": "Caixa Saúde & Vida"})
    text = arrival(event.model_copy(update={"checkin": event.checkin.model_copy(update={"coverage": card})}), SITE)
    strictly_valid(text)
    assert str(hl7.parse(text).segment("IN1")[3]) == "CAIXA-SAUDE-VIDA^^^RIVERSIDE^XX"
    assert payer_code("") == "UNKNOWN"


def test_ascii_only_messages_leave_msh18_empty_and_the_wire_bytes_are_ascii():
    text = arrival(payload_for("ascii", walk_in=False, with_card=True), SITE)
    assert strictly_valid(text).msh.msh_18.value == ""
    assert text.isascii()


@pytest.mark.parametrize("script", NAMES)
def test_a_demographics_change_is_a_strictly_valid_adt_a08(script):
    family, given, street, city = NAMES[script]
    checkin_id = str(uuid.uuid4())
    payload = {
        "checkin_id": checkin_id, "patient_id": "MRN2001", "mrn": "MRN2001",
        "patient": {"family": family, "given": given, "birth_date": "1956-03-14"},
        "demographics": {"address": {"street": street, "city": city, "state": "IL", "postal_code": "62565",
                                     "country": "USA"}, "phone": "555-0199", "email": "new@example.org"},
    }  # fmt: skip
    text = demographics_update(PatientUpdateV1.model_validate(payload), SITE, dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone.utc))
    strictly_valid(text)
    parsed = hl7.parse(text)
    assert str(parsed.segment("MSH")[9]) == "ADT^A08^ADT_A01"
    assert str(parsed.segment("MSH")[10]) == control_id(checkin_id, "demographics") != control_id(checkin_id)
    pid = parsed.segment("PID")
    assert str(pid[3]) == "MRN2001^^^PM^MR" and str(pid[7]) == "19560314"
    assert parsed.unescape(str(pid[11][0][2])) == city
    assert str(pid[13]) == "555-0199^PRN^PH~^NET^Internet^new@example.org"


def test_a_demographics_change_queued_without_the_name_cannot_be_mapped():
    update = PatientUpdateV1(checkin_id=str(uuid.uuid4()), patient_id="p", demographics=Demographics(phone="1"))
    with pytest.raises(ValueError):
        demographics_update(update, SITE, dt.datetime.now(dt.timezone.utc))


def test_the_judge_finds_what_receivers_complained_about():
    """hl7apy at the strict level rejects the shapes the connector used to send (so these tests can fail)."""
    old = ("MSH|^~\\&|LOBBY-CHECKIN|test-site|||20260301||ADT^A04^ADT_A01|1|P|2.5.1\rEVN|A04|20260301\r"
           "PID|1||||García^Zoë||19580309\rPV1|1|O\rIN1|1|Gold||Acme Health|||||G-1")  # fmt: skip
    assert any("PID.PID_3" in p for p in strict_problems(old))
    assert any("IN1.IN1_3" in p for p in strict_problems(old.replace("PID|1||", "PID|1||MRN1^^^PM^MR")))
    temporary = old.replace("PID|1||", "PID|1||W1^^^SITE^TMP").replace("|Gold||", "|Gold|X|")
    assert any("TMP not in table HL70203" in p for p in strict_problems(temporary))


def test_a_scanned_card_goes_into_in1_even_when_the_coverage_equals_the_file():
    """A `checkin.v2` with a card: IN1 carries the card's payer, member id and group as the patient
    confirmed them (the check-in's own `coverage` was dropped as equal to the file), strictly valid."""
    payload = payload_for("ascii", walk_in=False, with_card=False).payload()
    card = {"payor": "Acme Health", "member_id": "CARD-99812", "group": "GRP-4411", "plan": "Gold PPO", "source": "card"}
    event = CheckinV2.model_validate({**payload, "insurance_card": payload["checkin"]["checkin_id"], "card_coverage": card})
    assert event.checkin.coverage is None
    in1 = strictly_valid(arrival(event, SITE)).children.get("ADT_A01_INSURANCE")[0].in1
    assert in1.in1_3.to_er7() == "ACME-0042^^^PM^XX" and in1.in1_4.to_er7() == "Acme Health"
    assert in1.in1_8.to_er7() == "GRP-4411" and in1.in1_36.to_er7() == "CARD-99812"
    assert in1.in1_2.to_er7() == "^Gold PPO"
    without_card = CheckinV2.model_validate(payload)  # a v2 event without a card: no IN1, as v1
    assert "IN1" not in arrival(without_card, SITE)
