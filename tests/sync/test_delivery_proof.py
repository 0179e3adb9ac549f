"""Delivery needs proof: a hostile central server (the sandbox's faults) answering 200 with failed entries,
without entries, with too few, or trickling its answer, never gets an event marked delivered. Each case
is retried or dead-lettered with the reason, and once central behaves every check-in is there once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest

from edge_agent.central.fhir import classify
from edge_agent.desk.dead_letters import dead_letters
from edge_agent.fhir_bundle import checkin_bundle
from lobby_core.outbox_events import CheckinV1, PatientUpdateV1
from tools.central_seed import day_schedule

from .conftest import IDENTIFIER_SYSTEM, checkin_payload, enqueue, pull_schedule
from .test_worker import ENCOUNTERS, checkin_ids, drained, run_until, worker_for


@pytest.fixture
def schedule(sandbox, tmp_path):
    sandbox.seed(day_schedule(dt.date.today(), 6))
    return pull_schedule(sandbox.url, tmp_path / "agent", dt.date.today())


def enqueue_checkins(store, schedule) -> list[dict]:
    payloads = [checkin_payload(appointment) for appointment in schedule[:4]]
    for payload in payloads:
        enqueue(store, payload)
    return payloads


def test_entries_that_failed_with_4xx_are_dead_lettered_with_their_outcome_and_resent_on_retry(
    store, sandbox, schedule, tmp_path
):
    payloads = enqueue_checkins(store, schedule)
    diagnostics = "Encounter.class: code 'AMB' is not in the site's value set"
    sandbox.fault("failed-entries", status=422, diagnostics=diagnostics, methods=["POST"])

    worker = worker_for(store, sandbox, tmp_path)
    asyncio.run(run_until(worker, store, lambda s: s.pending == 0 and s.dead == 1))

    [letter] = store.read_sync(dead_letters)
    assert letter.error.startswith("HTTP 200: entry 1 of ") and letter.error.endswith(" 422")
    outcome = json.loads(letter.outcome)
    assert outcome["resourceType"] == "OperationOutcome" and diagnostics in outcome["issue"][0]["diagnostics"]
    refused = next(p for p in payloads if p["checkin"]["checkin_id"] == letter.aggregate_id)
    others = [p for p in payloads if p is not refused]
    assert sandbox.identifier_counts("Encounter", ENCOUNTERS) == {c: 1 for c in checkin_ids(others)}

    assert store.requeue(letter.id)
    asyncio.run(run_until(worker_for(store, sandbox, tmp_path), store, lambda s: s.pending == 0 and s.dead == 0))
    assert sandbox.identifier_counts("Encounter", ENCOUNTERS) == {c: 1 for c in checkin_ids(payloads)}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"mode": "failed-entries", "status": 503, "count": 2}, "HTTP 200: entry 1 of {n} ({first}) 503"),
        ({"mode": "failed-entries", "status": 429, "count": 1}, "HTTP 200: entry 1 of {n} ({first}) 429"),
        ({"mode": "no-entries", "count": 2}, "HTTP 200: 0 of {n} entries answered"),
        # the transaction commits, but its answer lacks an entry: the resend must create nothing twice
        ({"mode": "fewer-entries", "count": 2}, "HTTP 200: {fewer} of {n} entries answered"),
        # headers at once, then a byte every few ms for 10 s: each read is quick, the whole is not
        ({"mode": "trickle", "trickle_s": 10.0, "count": 1}, "timeout"),
    ],
    ids=["entries-503", "entries-429", "no-entries", "fewer-entries", "trickle"],
)
def test_answers_without_proof_are_retried_and_every_checkin_arrives_once(
    store, sandbox, schedule, tmp_path, fault, reason
):
    payloads = enqueue_checkins(store, schedule)
    sandbox.fault(**fault, methods=["POST"])

    worker = worker_for(store, sandbox, tmp_path, concurrency=1)  # so the first attempts meet the faults
    asyncio.run(run_until(worker, store, drained))

    assert sandbox.stats()["faults_pending"] == 0 and store.outbox_stats().dead == 0
    assert worker.health.retried == fault["count"]
    sent = checkin_bundle(CheckinV1.model_validate(payloads[0]), IDENTIFIER_SYSTEM)["entry"]
    first = f"{sent[0]['request']['method']} {sent[0]['request']['url'].split('/')[0]}"
    assert worker.health.last_error == reason.format(n=len(sent), fewer=len(sent) - 1, first=first)
    assert sandbox.identifier_counts("Encounter", ENCOUNTERS) == {c: 1 for c in checkin_ids(payloads)}
    assert sorted(sandbox.identifier_counts("Coverage", f"{IDENTIFIER_SYSTEM}/coverage").values()) == [1] * 4


def test_a_patient_update_whose_patch_entry_failed_is_dead_lettered_and_the_patient_unchanged(
    store, sandbox, schedule, tmp_path
):
    patient_id = schedule[0].patient_id
    before = sandbox.read(f"Patient/{patient_id}").json()
    update = {"checkin_id": "u-1", "patient_id": patient_id, "demographics": {"phone": "555-0199"}}
    store.write_sync(lambda conn: store.enqueue(conn, PatientUpdateV1.event_name, "u-1:demographics", patient_id, update))
    sandbox.fault("failed-entries", status=409, diagnostics="Patient changed meanwhile", methods=["POST"])

    asyncio.run(run_until(worker_for(store, sandbox, tmp_path), store, lambda s: s.dead == 1))

    [letter] = store.read_sync(dead_letters)
    assert letter.error == "HTTP 200: entry 1 of 1 (PATCH Patient) 409"
    assert "Patient changed meanwhile" in letter.outcome
    assert sandbox.read(f"Patient/{patient_id}").json()["meta"] == before["meta"]

    assert store.requeue(letter.id)
    asyncio.run(run_until(worker_for(store, sandbox, tmp_path), store, lambda s: s.pending == 0 and s.dead == 0))
    assert {"system": "phone", "value": "555-0199"} in sandbox.read(f"Patient/{patient_id}").json()["telecom"]


# --- the proof itself, answer by answer ------------------------------------------------------------

SENT = [("POST", "Appointment"), ("PUT", "Encounter/e1"), ("PATCH", "Patient/p1")]


def answer(*statuses: str, **entry_extra) -> httpx.Response:
    entries = [{"response": {"status": status, **entry_extra}} for status in statuses]
    return httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response", "entry": entries})


@pytest.mark.parametrize(
    ("response", "outcome", "reason"),
    [
        (answer("201 Created", "200 OK", "200 OK"), "delivered", ""),
        (answer("200", "201", "204 No Content"), "delivered", ""),  # conditional create matched; bare codes
        (answer("201 Created", "200 OK"), "retry", "HTTP 200: 2 of 3 entries answered"),
        (answer("201 Created", "200 OK", "200 OK", "200 OK"), "retry", "HTTP 200: 4 of 3 entries answered"),
        (answer("202 Accepted", "200 OK", "200 OK"), "retry", "HTTP 200: entry 1 of 3 (POST Appointment) 202"),
        (answer("304 Not Modified", "200 OK", "200 OK"), "retry", "HTTP 200: entry 1 of 3 (POST Appointment) 304"),
        (answer("201 Created", "200 OK", ""), "retry", "HTTP 200: entry 3 of 3 (PATCH Patient) without a status"),
        (answer("201 Created", "500 Internal Server Error", "200 OK"), "retry",
         "HTTP 200: entry 2 of 3 (PUT Encounter) 500"),
        (answer("201 Created", "408", "200 OK"), "retry", "HTTP 200: entry 2 of 3 (PUT Encounter) 408"),
        # a refusal outweighs a transient failure elsewhere: resending cannot make it go through
        (answer("503", "404 Not Found", "200 OK"), "rejected", "HTTP 200: entry 2 of 3 (PUT Encounter) 404"),
        (httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response"}), "retry",
         "HTTP 200: 0 of 3 entries answered"),
        (httpx.Response(200, json={"resourceType": "Bundle", "type": "batch-response", "entry": []}), "retry",
         "HTTP 200 without a transaction-response"),
    ],
)  # fmt: skip
def test_only_one_successful_entry_per_request_entry_proves_delivery(response, outcome, reason):
    result = classify(response, SENT)
    assert (result.outcome, result.reason) == (outcome, reason)


def test_a_refused_entry_carries_every_refusal_into_one_operation_outcome():
    refusal = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
                                                              "diagnostics": "Appointment is cancelled"}]}  # fmt: skip
    entries = [{"response": {"status": "422", "outcome": refusal}}, {"response": {"status": "400 Bad Request"}},
               {"response": {"status": "200 OK"}}]  # fmt: skip
    response = httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response", "entry": entries})
    result = classify(response, SENT)
    assert result.outcome == "rejected" and result.reason == "HTTP 200: entry 1 of 3 (POST Appointment) 422"
    issues = json.loads(result.server_outcome)["issue"]
    assert [i["diagnostics"] for i in issues] == [
        "entry 1 (POST Appointment): Appointment is cancelled",
        "entry 2 (PUT Encounter): answered 400 Bad Request without an OperationOutcome",
    ]
