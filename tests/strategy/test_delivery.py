"""A check-in with three signed forms and an insurance card reaches each server exactly once, by every
strategy that server supports, and again exactly once when the agent sends it a second time (its
answer lost); under the size-limited strategy a failure between parts resends only the rest."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid

import pytest

from edge_agent.config import DEFAULT_CONSENTS_DIR
from edge_agent.consents.documents import ConsentLibrary
from tests.consents.conftest import record_for
from tests.card_jpegs import card_scan
from tests.sandbox import wait_until
from tests.sync.conftest import IDENTIFIER_SYSTEM
from tools.central_seed import day_schedule

from .servers import http_get, start_server

FORMS = ("consent-to-treat", "privacy-notice", "financial-responsibility")
CASES = {  # id: (server, [central.capabilities], the strategy that follows)
    "sandbox-transaction": ("sandbox", {}, "transaction"),
    "sandbox-individual": ("sandbox", {"strategy": "individual"}, "individual"),
    "sandbox-limit-8-split": ("sandbox-limit-8", {"max_transaction_entries": 8}, "split-transactions"),
    "sandbox-no-transactions": ("sandbox-no-transactions", {}, "individual"),
    "medplum-split": ("medplum", {}, "split-transactions"),
    "medplum-individual": ("medplum", {"strategy": "individual"}, "individual"),
}


def checkin_with_forms(patient: dict, appointment_id: str) -> dict:
    library = ConsentLibrary(DEFAULT_CONSENTS_DIR)
    return {
        "checkin_id": str(uuid.uuid4()), "kiosk_id": "kiosk-1", "appointment_id": appointment_id,
        "identity_source": "manual",
        "patient": {"family": patient["name"][0]["family"], "given": patient["name"][0]["given"][0],
                    "birth_date": patient["birthDate"]},
        "coverage": {"payor": "Acme Health", "member_id": "M7654321", "group": "G-1", "source": "card"},
        "answers": [{"link_id": "fever", "text": "Fever?", "value": False}],
        "consents": [record_for(library, form, kiosk_id="kiosk-1").model_dump(mode="json") for form in FORMS],
    }  # fmt: skip


def central_counts(server) -> dict[str, dict[str, int]]:
    return {
        kind: server.identifier_counts(kind, f"{IDENTIFIER_SYSTEM}/{system}")
        for kind, system in (("Encounter", "checkin"), ("Coverage", "coverage"),
                             ("QuestionnaireResponse", "intake"), ("Consent", "consent"),
                             ("DocumentReference", "insurance-card"))
    }  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_three_forms_and_a_card_arrive_exactly_once(case, tmp_path, agent_factory):
    server_name, capabilities, strategy = CASES[case]
    server = start_server(server_name, tmp_path)
    try:
        resources = day_schedule(dt.datetime.now(dt.timezone.utc).date(), 3)
        server.seed(resources)
        patient = next(r for r in resources if r["id"] == "pat-1")
        agent = agent_factory(server.url, capabilities=capabilities)
        agent.start()
        wait_until(lambda: agent.health()["schedule_appointments"] == 3, 30, "today's schedule")

        body = {**checkin_with_forms(patient, "appt-1"), "insurance_card": card_scan("M7654321")}
        assert agent.post("checkins", body, **{"Idempotency-Key": body["checkin_id"]}).status_code == 201
        wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the check-in to be delivered")
        assert agent.health()["dead_letters"] == 0, agent.all_logs()[-3000:]

        counts = central_counts(server)
        checkin_id = body["checkin_id"]
        assert counts["Encounter"] == counts["Coverage"] == counts["QuestionnaireResponse"] == {checkin_id: 1}
        assert counts["DocumentReference"] == {checkin_id: 1}  # the scanned card, both sides
        card = http_get(server, "DocumentReference").json()["entry"][0]["resource"]
        assert [a["attachment"]["contentType"] for a in card["content"]] == ["image/jpeg", "image/jpeg"]
        assert card["subject"]["reference"] == "Patient/pat-1"
        coverage = http_get(server, f"Coverage?identifier={IDENTIFIER_SYSTEM}/coverage|{checkin_id}").json()["entry"][0]["resource"]
        assert coverage["subscriberId"] == "M7654321" and coverage["payor"][0]["display"] == "Acme Health"
        assert {c["value"] for c in coverage["class"]} == {"GRP-4411", "Gold PPO"}
        assert sorted(counts["Consent"].values()) == [1, 1, 1]
        assert server.stats()["resources"]["Provenance"] == 3
        assert http_get(server, "Appointment/appt-1").json()["status"] == "arrived"
        encounter_ref = http_get(server, f"Encounter?identifier={IDENTIFIER_SYSTEM}/checkin|{checkin_id}").json()
        encounter_id = encounter_ref["entry"][0]["resource"]["id"]
        answers = http_get(server, "QuestionnaireResponse").json()["entry"][0]["resource"]
        assert answers["encounter"]["reference"] == f"Encounter/{encounter_id}"  # resolved across parts
        transactions = server.stats()["transactions"]
        assert transactions == {"transaction": 1, "split-transactions": 2, "individual": 0}[strategy]

        # Central has it all, but the agent never learnt it: the whole event goes out again.
        agent.stop()
        with sqlite3.connect(agent.running.store_path) as conn:
            assert conn.execute("UPDATE outbox SET status = 'pending', next_attempt_at = 0").rowcount == 1
        agent.start()
        wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the replay to be delivered")
        assert server.stats()["transactions"] == 2 * transactions  # it really was sent again
        assert central_counts(server) == counts
        assert server.stats()["resources"]["Provenance"] == 3
    finally:
        server.stop()


def test_a_failure_between_parts_resends_only_the_rest(tmp_path, agent_factory):
    """Transactions of at most 8: the arrival and three forms (8 entries), then coverage and answers. The
    second transaction fails once; the retry sends it alone, not the first again."""
    server = start_server("sandbox-limit-8", tmp_path)
    try:
        resources = day_schedule(dt.datetime.now(dt.timezone.utc).date(), 2)
        server.seed(resources)
        agent = agent_factory(server.url, capabilities={"max_transaction_entries": 8})
        agent.start()
        wait_until(lambda: agent.health()["schedule_appointments"] == 2, 30, "today's schedule")
        server.fault("status", status=503, methods=["POST"], after=1)
        body = checkin_with_forms(next(r for r in resources if r["id"] == "pat-0"), "appt-0")
        assert agent.post("checkins", body, **{"Idempotency-Key": body["checkin_id"]}).status_code == 201
        wait_until(lambda: agent.health()["outbox_depth"] == 0, 30, "the check-in to be delivered")

        stats = server.stats()
        assert stats["requests"]["POST"] == 3 and stats["transactions"] == 2  # part 1, part 2 (503), part 2
        assert "part 2 of 2: HTTP 503" in agent.all_logs()
        assert central_counts(server)["Encounter"] == {body["checkin_id"]: 1}
        with sqlite3.connect(agent.running.store_path) as conn:  # delivered: its parts are forgotten
            assert conn.execute("SELECT COUNT(*) FROM delivery_parts").fetchone()[0] == 0
    finally:
        server.stop()
