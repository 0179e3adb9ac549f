"""Signed consents travel in the check-in's Bundle (Consent + Provenance) and arrive exactly once, even
when the agent sends the Bundle again because the central system's answer was lost."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid

from edge_agent.config import DEFAULT_CONSENTS_DIR
from edge_agent.consents.documents import ConsentLibrary
from tests.consents.conftest import record_for
from tools.central_seed import day_schedule

from tests.sandbox import wait_until
from .conftest import IDENTIFIER_SYSTEM


def test_consents_reach_central_once_even_when_the_bundle_is_sent_again(sandbox, agent_factory):
    resources = day_schedule(dt.datetime.now(dt.timezone.utc).date(), 3)
    sandbox.seed(resources)
    patient = next(r for r in resources if r["id"] == "pat-1")
    agent = agent_factory(sandbox.url)
    agent.start()
    wait_until(lambda: agent.health()["schedule_appointments"] == 3, 30, "today's schedule")

    library = ConsentLibrary(DEFAULT_CONSENTS_DIR)
    consents = [
        record_for(library, "consent-to-treat", "en", kiosk_id="kiosk-1").model_dump(mode="json"),
        record_for(library, "privacy-notice", "es", decision="declined", kiosk_id="kiosk-1").model_dump(mode="json"),
    ]
    checkin_id = str(uuid.uuid4())
    response = agent.post("checkins", {
        "checkin_id": checkin_id, "kiosk_id": "kiosk-1", "appointment_id": "appt-1", "identity_source": "manual",
        "patient": {"family": patient["name"][0]["family"], "given": patient["name"][0]["given"][0],
                    "birth_date": patient["birthDate"]},
        "consents": consents,
    }, **{"Idempotency-Key": checkin_id})  # fmt: skip
    assert response.status_code == 201, response.text
    wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the check-in to be delivered")

    consent_counts = sandbox.identifier_counts("Consent", f"{IDENTIFIER_SYSTEM}/consent")
    assert sorted(consent_counts.values()) == [1, 1]
    stored = sandbox.read("Consent?patient=Patient/pat-1").json()["entry"]
    assert sorted(entry["resource"]["status"] for entry in stored) == ["active", "rejected"]
    assert all(entry["resource"]["sourceAttachment"]["contentType"] == "application/pdf" for entry in stored)
    before = sandbox.stats()["resources"]
    assert before["Provenance"] == 2 and before["Encounter"] == 1

    # The central system committed, but the agent never learnt it (say the answer was lost): the event
    # is still pending when the agent comes back, and the whole Bundle goes out again.
    agent.stop()
    with sqlite3.connect(agent.running.store_path) as conn:
        assert conn.execute("UPDATE outbox SET status = 'pending', next_attempt_at = 0").rowcount == 1
    requests_before = sandbox.stats()["requests"].get("POST", 0)
    agent.start()
    wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the replay to be delivered")

    assert sandbox.stats()["requests"]["POST"] == requests_before + 1  # it really was sent again
    assert sandbox.stats()["resources"] == before
    assert sandbox.identifier_counts("Consent", f"{IDENTIFIER_SYSTEM}/consent") == consent_counts
    assert sandbox.identifier_counts("Encounter", f"{IDENTIFIER_SYSTEM}/checkin") == {checkin_id: 1}
    provenances = sandbox.read("Provenance").json()["entry"]
    assert [entry["resource"]["meta"]["versionId"] for entry in provenances] == ["1", "1"]
