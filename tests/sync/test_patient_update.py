"""An accepted demographics change reaches the central Patient once, after the patient's check-in:
the `patient_update.v1` Bundle (a JSON Patch of address and telecom), its delivery through the real
agent to the FHIR sandbox, and the HL7 v2 connector's refusal of it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
import types
import uuid

import jsonpatch
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from edge_agent.fhir_bundle import patient_update_bundle
from lobby_core.outbox_events import PatientUpdateV1
from tests.desk.conftest import Staff, edge_agent_cli
from tests.sandbox import wait_until
from tools.central_seed import day_schedule

from .conftest import checkin_payload, enqueue
from .test_hl7v2 import appointment, run_worker, with_receiver

NEW_ADDRESS = {"street": "42 Harbour Road", "city": "Shelbyville", "state": "IL", "postal_code": "62565", "country": "USA"}
FRONT_DESK = ("frontdesk", "demo-frontdesk")


def update_payload(**demographics) -> dict:
    return {"checkin_id": str(uuid.uuid4()), "patient_id": "pat-1", "demographics": demographics}


def patch_of(bundle: dict) -> list[dict]:
    return json.loads(base64.b64decode(bundle["entry"][0]["resource"]["data"]))


def test_patient_update_bundle_is_a_valid_replayable_patch_of_address_and_telecom():
    bundle = patient_update_bundle(PatientUpdateV1.model_validate(update_payload(address=NEW_ADDRESS, phone="555-0199", email="")))
    Bundle.model_validate(bundle)
    assert [entry["request"] for entry in bundle["entry"]] == [{"method": "PATCH", "url": "Patient/pat-1"}]
    assert bundle["entry"][0]["resource"]["contentType"] == "application/json-patch+json"
    operations = patch_of(bundle)
    assert operations == [
        {"op": "add", "path": "/address", "value": [{"line": ["42 Harbour Road"], "city": "Shelbyville",
                                                     "state": "IL", "postalCode": "62565", "country": "USA"}]},
        {"op": "add", "path": "/telecom", "value": [{"system": "phone", "value": "555-0199"}]},
    ]  # fmt: skip
    on_file = {"resourceType": "Patient", "id": "pat-1", "birthDate": "1960-01-01",
               "address": [{"line": ["1 Elm Street"], "city": "Springfield"}],
               "telecom": [{"system": "phone", "value": "555-0101"}]}  # fmt: skip
    once = jsonpatch.apply_patch(on_file, operations)
    assert jsonpatch.apply_patch(once, operations) == once  # a replay changes nothing
    Patient.model_validate(once)
    assert once["address"][0]["city"] == "Shelbyville" and once["birthDate"] == "1960-01-01"


def test_patient_update_bundle_patches_only_what_was_given():
    phone_only = patch_of(patient_update_bundle(PatientUpdateV1.model_validate(update_payload(address=None, phone="", email="a@example.org"))))
    assert phone_only == [{"op": "add", "path": "/telecom", "value": [{"system": "email", "value": "a@example.org"}]}]
    with pytest.raises(ValueError):
        patient_update_bundle(PatientUpdateV1.model_validate(update_payload(address=None, phone="", email="")))


def test_hl7v2_connector_sends_a_patient_update_as_adt_a08_after_the_checkin(store, tmp_path):
    payload = checkin_payload(appointment(1))
    enqueue(store, payload, patient_key="patient-1")
    update = {**update_payload(address=NEW_ADDRESS, phone="555-0199"), "mrn": "MRN1",
              "patient": {"family": "O'Brien", "given": "Aoife", "birth_date": "1958-03-09"}}  # fmt: skip
    store.write_sync(lambda conn: store.enqueue(conn, PatientUpdateV1.event_name, "u:demographics", "patient-1", update))

    def scenario(receiver, port):
        run_worker(store, port, tmp_path, until=lambda stats: stats.pending == 0)
        events = [str(message.segment("MSH")[9]) for message in receiver.accepted.values()]
        assert events == ["ADT^A04^ADT_A01", "ADT^A08^ADT_A01"]  # the check-in first, then the change
        a08 = list(receiver.accepted.values())[1]
        assert str(a08.segment("PID")[3]) == "MRN1^^^^MR" and "Shelbyville" in str(a08.segment("PID")[11])

    with_receiver(scenario)
    assert (store.outbox_stats().delivered, store.outbox_stats().dead) == (2, 0)


# --- through the real agent and the FHIR sandbox ------------------------------------------------


def check_in(agent, patient: dict, appointment_id: str) -> str:
    checkin_id = str(uuid.uuid4())
    response = agent.post("checkins", {
        "checkin_id": checkin_id, "kiosk_id": "kiosk-1", "appointment_id": appointment_id, "identity_source": "aamva",
        "patient": {"family": patient["name"][0]["family"], "given": patient["name"][0]["given"][0],
                    "birth_date": patient["birthDate"]},
        "demographics": {"address": NEW_ADDRESS, "phone": "555-0199"},
    }, **{"Idempotency-Key": checkin_id})  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["flags"] == []  # the kiosk is not told what the file holds; the desk is
    with sqlite3.connect(agent.running.store_path) as conn:
        [flags] = conn.execute("SELECT flags FROM arrivals WHERE checkin_id = ?", (checkin_id,)).fetchone()
    assert "demographics_changed" in json.loads(flags)
    return checkin_id


def outbox_rows(agent) -> list[tuple[str, str, str]]:
    with sqlite3.connect(agent.running.store_path) as conn:
        return conn.execute("SELECT event_type, aggregate_id, status FROM outbox ORDER BY id").fetchall()


def test_accepted_demographics_reach_the_central_patient_once_and_after_the_checkin(sandbox, agent_factory):
    resources = day_schedule(dt.datetime.now(dt.UTC).date(), 4)
    sandbox.seed(resources)
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    agent = agent_factory(sandbox.url)
    agent.start()
    wait_until(lambda: agent.health()["schedule_appointments"] == 4, 30, "today's schedule")
    edge_agent_cli("add-staff", FRONT_DESK[0], "--role", "front_desk", "--password-stdin",
                   config=agent.running.config_path, stdin=FRONT_DESK[1] + "\n")  # fmt: skip
    desk = Staff(types.SimpleNamespace(url=agent.running.base_url), *FRONT_DESK)

    def decide(checkin_id: str, decision: str) -> dict:
        response = desk.post(f"/api/v1/queue/{checkin_id}/changes/demographics/{decision}")
        assert response.status_code == 200, response.text
        assert "demographics_changed" not in response.json()["flags"]
        return response.json()

    def patient(patient_id: str) -> dict:
        return sandbox.read(f"Patient/{patient_id}").json()

    try:
        # Dismissed: nothing goes to central.
        dismissed = check_in(agent, patients["pat-2"], "appt-2")
        assert "central_update" not in decide(dismissed, "dismiss")

        # Accepted while the central system refuses the check-in: the update waits for it.
        sandbox.fault("status", status=503, count=1000, methods=["POST"])
        ordered = check_in(agent, patients["pat-3"], "appt-3")
        assert decide(ordered, "accept")["central_update"] == "queued"
        assert [status for _type, _id, status in outbox_rows(agent)][-2:] == ["pending", "pending"]
        sandbox.control("DELETE", "faults")
        wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the check-ins and the update to be delivered")
        encounter = sandbox.read(f"Encounter?identifier=urn:test-site/checkin|{ordered}").json()["entry"][0]["resource"]
        updated = patient("pat-3")
        assert updated["meta"]["versionId"] == "2"
        assert encounter["meta"]["lastUpdated"] <= updated["meta"]["lastUpdated"]
        assert updated["address"] == [{"line": ["42 Harbour Road"], "city": "Shelbyville", "state": "IL",
                                       "postalCode": "62565", "country": "USA"}]  # fmt: skip
        assert updated["telecom"] == [{"system": "phone", "value": "555-0199"}]
        assert updated["name"] == patients["pat-3"]["name"]

        # Delivered twice: the first attempt hangs past the agent's timeout and still commits late.
        twice = check_in(agent, patients["pat-1"], "appt-1")
        wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the check-in to be delivered")
        committed = sandbox.stats()["transactions"]
        sandbox.fault("hang", hang_s=3.0, count=1, methods=["POST"])
        assert decide(twice, "accept")["central_update"] == "queued"
        wait_until(lambda: sandbox.stats()["transactions"] == committed + 2, 30, "both deliveries to commit")
        wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the update to be delivered")
        assert patient("pat-1")["meta"]["versionId"] == "2"
        assert patient("pat-1")["address"][0]["city"] == "Shelbyville"

        assert patient("pat-2")["meta"]["versionId"] == "1"
        assert patient("pat-2")["address"] == patients["pat-2"]["address"]
        updates = [(aggregate, status) for event, aggregate, status in outbox_rows(agent) if event == PatientUpdateV1.event_name]
        assert updates == [(f"{ordered}:demographics", "delivered"), (f"{twice}:demographics", "delivered")]
        assert "Shelbyville" not in agent.all_logs() and "Harbour" not in agent.all_logs()
    finally:
        desk.close()
