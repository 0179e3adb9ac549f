"""THE crash test: a backlog built while central is down, drained by the real agent process while it
is SIGKILLed again and again. Counting identifiers at the central server proves exactly once, under
every delivery strategy: one transaction per check-in; transactions of at most 2 entries (each check-in
in two parts, a crash between them resending only the second); and no transactions at all (one
conditional request per resource)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tools.central_seed import day_schedule

from tests.sandbox import Sandbox, wait_until
from .conftest import IDENTIFIER_SYSTEM, kill_during_drain

BACKLOG = 100  # per strategy (three strategies within the suite's time budget)
KILLS = 3
KILL_EVERY = 20  # encounters at central between kills
STRATEGIES = {
    "transaction": ((), {}),
    "split-transactions": (("--max-transaction-entries", "2"), {"max_transaction_entries": 2}),
    "individual": (("--no-transactions",), {}),
}


@pytest.fixture(params=list(STRATEGIES))
def strategy_sandbox(request, tmp_path):
    mode_args, capabilities = STRATEGIES[request.param]
    server = Sandbox(tmp_path / "central.sqlite", tmp_path / "sandbox.log", mode_args)
    server.start()
    try:
        yield request.param, server, capabilities
    finally:
        server.stop()


def checkin_request(patient: dict, appointment_id: str) -> dict:
    return {
        "checkin_id": str(uuid.uuid4()),
        "kiosk_id": "kiosk-1",
        "appointment_id": appointment_id,
        "identity_source": "aamva",
        "patient": {
            "family": patient["name"][0]["family"],
            "given": patient["name"][0]["given"][0],
            "birth_date": patient["birthDate"],
        },
        "coverage": {"payor": "Acme Health", "member_id": "M7654321", "group": "G-1", "source": "card"},
        "answers": [{"link_id": "fever", "text": "Fever?", "value": False}],
    }


def test_sigkill_during_drain_delivers_every_checkin_exactly_once(strategy_sandbox, agent_factory):
    strategy, sandbox, capabilities = strategy_sandbox
    today = dt.datetime.now(dt.timezone.utc).date()
    resources = day_schedule(today, BACKLOG)
    sandbox.seed(resources)
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}

    agent = agent_factory(sandbox.url, capabilities={"strategy": strategy, **capabilities})
    agent.start()
    wait_until(lambda: agent.health()["schedule_appointments"] == BACKLOG, 30, "today's schedule from central")

    # Central goes away. The lobby keeps working from the cached schedule and the outbox holds everything.
    sandbox.stop()
    first = patients["pat-0"]
    lookup = agent.post("lookup", {"family": first["name"][0]["family"], "given": first["name"][0]["given"][0],
                                   "birth_date": first["birthDate"]})
    assert lookup.status_code == 200 and lookup.json()["outcome"] == "matched"
    checkin_ids = []
    for n in range(BACKLOG):
        body = checkin_request(patients[f"pat-{n}"], f"appt-{n}")
        response = agent.post("checkins", body, **{"Idempotency-Key": body["checkin_id"]})
        assert response.status_code == 201, response.text
        checkin_ids.append(body["checkin_id"])
    wait_until(lambda: agent.health()["central"] == "unreachable", 30, "the agent to notice central is down")
    assert agent.health()["outbox_depth"] == BACKLOG

    def encounters() -> int:
        return sandbox.stats()["resources"].get("Encounter", 0)

    killed_at = kill_during_drain(agent, sandbox, encounters, kills=KILLS, every=KILL_EVERY, backlog=BACKLOG)
    print("encounters at central when killed:", killed_at)

    wait_until(lambda: agent.health()["outbox_depth"] == 0, 90, "the outbox to drain")
    health = agent.health()
    assert health["dead_letters"] == 0 and health["central"] == "reachable"

    expected = {checkin_id: 1 for checkin_id in checkin_ids}
    assert sandbox.identifier_counts("Encounter", f"{IDENTIFIER_SYSTEM}/checkin") == expected
    assert sandbox.identifier_counts("Coverage", f"{IDENTIFIER_SYSTEM}/coverage") == expected
    assert sandbox.identifier_counts("QuestionnaireResponse", f"{IDENTIFIER_SYSTEM}/intake") == expected
    resources_at_central = sandbox.stats()["resources"]
    assert resources_at_central["Encounter"] == BACKLOG and resources_at_central["QuestionnaireResponse"] == BACKLOG
    stats = sandbox.stats()
    print(strategy, "central requests:", stats["requests"], "transactions:", stats["transactions"])
    committed = {"transaction": (BACKLOG, 3 * BACKLOG), "split-transactions": (2 * BACKLOG, 6 * BACKLOG),
                 "individual": (0, 0)}[strategy]  # fmt: skip
    assert committed[0] <= stats["transactions"] <= committed[1]  # the strategy is the one that ran
    arrived = sandbox.read(f"Appointment?date={today.isoformat()}&status=arrived").json()
    assert arrived["total"] == BACKLOG

    # hundreds of retries, failures and restarts logged, and not one name or birth date among them
    log = agent.all_logs()
    assert "sync will retry" in log
    for patient in patients.values():
        assert patient["name"][0]["family"] not in log and patient["birthDate"] not in log
