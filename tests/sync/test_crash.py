"""THE crash test: a backlog built while central is down, drained by the real agent process while it
is SIGKILLed again and again. Counting identifiers at the central server proves exactly once."""

from __future__ import annotations

import datetime as dt
import uuid

from tools.central_seed import day_schedule

from tests.sandbox import wait_until
from .conftest import IDENTIFIER_SYSTEM

BACKLOG = 300
KILLS = 3


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


def test_sigkill_during_drain_delivers_every_checkin_exactly_once(sandbox, agent_factory):
    today = dt.datetime.now(dt.timezone.utc).date()
    resources = day_schedule(today, BACKLOG)
    sandbox.seed(resources)
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}

    agent = agent_factory(sandbox.url)
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

    # Central comes back, slowed a little (30 ms per transaction) so the kills land mid-drain.
    sandbox.start()
    sandbox.fault("hang", hang_s=0.03, count=100_000, methods=["POST"])

    def encounters() -> int:
        return sandbox.stats()["resources"].get("Encounter", 0)

    killed_at = []
    for _kill in range(KILLS):
        reached = encounters() + 40
        wait_until(lambda: encounters() >= reached, 60, f"{reached} encounters at central", every=0.01)
        agent.kill()
        killed_at.append(encounters())
        agent.start()
    assert all(count < BACKLOG for count in killed_at), f"kills came after the drain ended: {killed_at}"
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
    print("central requests:", sandbox.stats()["requests"])
    arrived = sandbox.read(f"Appointment?date={today.isoformat()}&status=arrived").json()
    assert arrived["total"] == BACKLOG

    # hundreds of retries, failures and restarts logged, and not one name or birth date among them
    log = agent.all_logs()
    assert "sync will retry" in log
    for patient in patients.values():
        assert patient["name"][0]["family"] not in log and patient["birthDate"] not in log
