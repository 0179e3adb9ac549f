"""The scanned card in the check-in's transaction: a `checkin.v2` event naming a stored card builds a
DocumentReference (both JPEGs, conditional on the check-in id) and a Coverage from the card, each
accepted by fhir.resources' R4B models; a `checkin.v1` event already in an outbox still maps as before."""

from __future__ import annotations

import base64
import hashlib
import uuid
from urllib.parse import urlencode

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.documentreference import DocumentReference

from edge_agent import insurance_cards
from edge_agent.fhir_bundle import CheckinBundle, CheckinSystems, flatten, validated_transaction
from lobby_core.contract import CardFieldReading
from lobby_core.outbox_events import CheckinV1, CheckinV2, parse_event
from tests.card_jpegs import card_jpeg

from .conftest import IDENTIFIER_SYSTEM, checkin_payload

FRONT, BACK = card_jpeg("front"), card_jpeg("back")


def stored_card(checkin_id: str, subscriber: str = "") -> insurance_cards.StoredCard:
    fields = {"payer_name": "Evergreen Mutual", "member_id": "EV-5550001", "group_number": "EVG-77", "plan": "Silver",
              "subscriber_name": subscriber}  # fmt: skip
    return insurance_cards.StoredCard(checkin_id=checkin_id, front_jpeg=FRONT, back_jpeg=BACK,
                                      fields={k: CardFieldReading(value=v) for k, v in fields.items()},
                                      front_size="428x270", back_size="428x270")  # fmt: skip


def by_type(entries) -> dict[str, dict]:
    return {entry["resource"]["resourceType"]: entry for entry in entries}


def test_a_v2_event_with_a_card_sends_one_document_reference_and_the_card_as_coverage():
    payload = checkin_payload(None)
    checkin_id = payload["checkin"]["checkin_id"]
    event = parse_event("checkin.v2", {**payload, "insurance_card": checkin_id})
    assert isinstance(event, CheckinV2) and isinstance(event, CheckinV1)
    groups = CheckinBundle(event, CheckinSystems(IDENTIFIER_SYSTEM), stored_card(checkin_id)).groups()
    assert [g.name for g in groups] == ["arrival", "coverage-answers", "insurance-card"]
    bundle = validated_transaction(flatten(groups))
    Bundle.model_validate(bundle)
    entries = by_type(bundle["entry"])

    card = entries["DocumentReference"]
    DocumentReference.model_validate(card["resource"])
    assert card["request"] == {"method": "POST", "url": "DocumentReference",
                               "ifNoneExist": urlencode({"identifier": f"{IDENTIFIER_SYSTEM}/insurance-card|{checkin_id}"})}
    resource = card["resource"]
    assert resource["type"]["coding"][0] == {"system": "http://loinc.org", "code": "64290-0", "display": "Health insurance card"}
    assert resource["subject"]["reference"] == entries["Patient"]["fullUrl"]
    assert resource["context"]["related"][0]["reference"] == entries["Coverage"]["fullUrl"]
    attachments = [c["attachment"] for c in resource["content"]]
    assert [base64.b64decode(a["data"]) for a in attachments] == [FRONT, BACK]
    assert attachments[0]["hash"] == base64.b64encode(hashlib.sha1(FRONT).digest()).decode()

    coverage = entries["Coverage"]["resource"]
    Coverage.model_validate(coverage)
    assert coverage["payor"] == [{"display": "Evergreen Mutual"}] and coverage["subscriberId"] == "EV-5550001"
    assert {c["type"]["coding"][0]["code"]: c["value"] for c in coverage["class"]} == {"group": "EVG-77", "plan": "Silver"}
    assert coverage["relationship"]["coding"][0]["code"] == "self"
    assert coverage["period"] == {"end": "2027-12-31"}  # from the kiosk's coverage: not printed on the card


def test_a_card_of_another_subscriber_is_not_self_and_the_patients_own_name_is():
    payload = checkin_payload(None)
    checkin_id = payload["checkin"]["checkin_id"]
    event = CheckinV2.model_validate({**payload, "insurance_card": checkin_id})
    for subscriber, code in (("Jordan Walk-In", "other"), ("Sam Walk-In", "self"), ("WALK-IN, SAM", "self"), ("", "self")):
        entries = by_type(flatten(CheckinBundle(event, CheckinSystems(IDENTIFIER_SYSTEM),
                                                stored_card(checkin_id, subscriber)).groups()))  # fmt: skip
        assert entries["Coverage"]["resource"]["relationship"]["coding"][0]["code"] == code, subscriber


def test_a_v1_event_from_an_older_agent_still_maps_without_a_card():
    payload = checkin_payload(None, checkin_id=str(uuid.uuid4()))
    event = parse_event("checkin.v1", payload)
    assert type(event) is CheckinV1
    entries = by_type(flatten(CheckinBundle(event, CheckinSystems(IDENTIFIER_SYSTEM)).groups()))
    assert "DocumentReference" not in entries and "relationship" not in entries["Coverage"]["resource"]
    assert entries["Coverage"]["resource"]["subscriberId"] == "M1234567"
