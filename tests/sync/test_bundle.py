"""The check-in transaction Bundle: valid FHIR R4, accepted by the sandbox, and safe to replay."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from edge_agent.fhir_bundle import checkin_bundle, checkin_bundle_json
from tools.central_seed import day_schedule
from lobby_core.outbox_events import CheckinV1

from .conftest import IDENTIFIER_SYSTEM, checkin_payload, pull_schedule


@pytest.fixture
def schedule(sandbox, tmp_path):
    sandbox.seed(day_schedule(dt.date.today(), 6))
    return pull_schedule(sandbox.url, tmp_path / "agent", dt.date.today())


def entries_by_type(bundle: Bundle) -> dict[str, dict]:
    return {entry.resource.get_resource_type(): entry for entry in bundle.entry}


def test_bundle_for_a_scheduled_patient_holds_every_resource_validated(schedule):
    payload = checkin_payload(schedule[0])
    bundle = Bundle.model_validate(checkin_bundle(CheckinV1.model_validate(payload), IDENTIFIER_SYSTEM))
    kinds = entries_by_type(bundle)
    assert set(kinds) == {"Binary", "Encounter", "Coverage", "QuestionnaireResponse"}
    # the bytes that leave re-validate as a whole Bundle: what is sent is valid R4
    Bundle.model_validate_json(checkin_bundle_json(CheckinV1.model_validate(payload), IDENTIFIER_SYSTEM))

    patch = kinds["Binary"]
    assert (patch.request.method, patch.request.url) == ("PATCH", f"Appointment/{schedule[0].appointment_id}")
    assert json.loads(patch.resource.data) == [{"op": "replace", "path": "/status", "value": "arrived"}]

    encounter = kinds["Encounter"]
    checkin_id = payload["checkin"]["checkin_id"]
    assert encounter.resource.status == "arrived"
    assert encounter.resource.class_fhir.code == "AMB"
    assert encounter.resource.identifier[0].system == f"{IDENTIFIER_SYSTEM}/checkin"
    assert encounter.resource.identifier[0].value == checkin_id
    assert encounter.request.ifNoneExist == f"identifier={IDENTIFIER_SYSTEM}/checkin|{checkin_id}".replace(
        ":", "%3A").replace("/", "%2F").replace("|", "%7C")
    assert encounter.resource.subject.reference == f"Patient/{schedule[0].patient_id}"
    assert encounter.fullUrl.startswith("urn:uuid:")

    questionnaire = kinds["QuestionnaireResponse"].resource
    assert questionnaire.encounter.reference == encounter.fullUrl
    answers = {item.linkId: item.answer for item in questionnaire.item}
    assert answers["fever"][0].valueBoolean is False
    assert answers["pain"][0].valueInteger == 3
    assert answers["reason"][0].valueString == "cough"
    assert answers["skipped"] is None

    coverage = kinds["Coverage"].resource
    assert coverage.subscriberId == "M1234567" and coverage.beneficiary.reference == f"Patient/{schedule[0].patient_id}"


def test_the_same_payload_always_builds_the_same_bytes(schedule):
    payload = checkin_payload(schedule[1])
    assert checkin_bundle_json(CheckinV1.model_validate(payload), IDENTIFIER_SYSTEM) == checkin_bundle_json(CheckinV1.model_validate(payload), IDENTIFIER_SYSTEM)


def test_walk_in_without_appointment_creates_a_provisional_patient(sandbox):
    payload = checkin_payload(None, with_card=False, with_answers=False)
    bundle = Bundle.model_validate(checkin_bundle(CheckinV1.model_validate(payload), IDENTIFIER_SYSTEM))
    kinds = entries_by_type(bundle)
    assert set(kinds) == {"Patient", "Encounter"}
    assert kinds["Encounter"].resource.subject.reference == kinds["Patient"].fullUrl
    response = httpx.post(sandbox.url, content=checkin_bundle_json(CheckinV1.model_validate(payload), IDENTIFIER_SYSTEM), timeout=10)
    assert response.status_code == 200, response.text
    encounter = sandbox.read(
        f"Encounter?identifier={IDENTIFIER_SYSTEM}/checkin|{payload['checkin']['checkin_id']}"
    ).json()["entry"][0]["resource"]
    assert encounter["subject"]["reference"].startswith("Patient/")  # the urn:uuid was resolved at central
    assert sandbox.read(encounter["subject"]["reference"]).json()["birthDate"] == "1970-01-02"


def test_replaying_a_bundle_creates_nothing_twice(sandbox, schedule):
    payload = checkin_payload(schedule[2])
    body = checkin_bundle_json(CheckinV1.model_validate(payload), IDENTIFIER_SYSTEM)
    first = httpx.post(sandbox.url, content=body, timeout=10)
    assert first.status_code == 200, first.text
    assert [e["response"]["status"] for e in first.json()["entry"]] == ["200 OK", "201 Created", "201 Created", "201 Created"]
    counts_after_first = sandbox.stats()["resources"]
    appointment = sandbox.read(f"Appointment/{schedule[2].appointment_id}")
    assert appointment.json()["status"] == "arrived"

    replay = httpx.post(sandbox.url, content=body, timeout=10)
    assert replay.status_code == 200, replay.text
    assert all(e["response"]["status"] == "200 OK" for e in replay.json()["entry"])
    assert sandbox.stats()["resources"] == counts_after_first
    assert sandbox.read(f"Appointment/{schedule[2].appointment_id}").headers["etag"] == appointment.headers["etag"]
    checkin_id = payload["checkin"]["checkin_id"]
    for resource_type, system in [("Encounter", "checkin"), ("Coverage", "coverage"), ("QuestionnaireResponse", "intake")]:
        assert sandbox.identifier_counts(resource_type, f"{IDENTIFIER_SYSTEM}/{system}") == {checkin_id: 1}


def test_sandbox_rejects_invalid_resources_with_an_operation_outcome(sandbox, schedule):
    bundle = json.loads(checkin_bundle_json(CheckinV1.model_validate(checkin_payload(schedule[3])), IDENTIFIER_SYSTEM))
    encounter = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    del encounter["resource"]["class"]
    response = httpx.post(sandbox.url, json=bundle, timeout=10)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and "class" in outcome["issue"][0]["diagnostics"]
    # atomic: the Appointment patch in the same transaction did not happen
    assert sandbox.read(f"Appointment/{schedule[3].appointment_id}").json()["status"] == "booked"
    assert sandbox.stats()["resources"].get("Encounter", 0) == 0
