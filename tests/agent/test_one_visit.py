"""Exactly once per visit (issue #13, failure 6), against a real agent process and the FHIR sandbox.

Two kiosks racing to check in the same appointments get one ticket per appointment (the loser is told
"already checked in" with that ticket), the agent stores one arrival and one outbox event, and central
receives one Encounter per visit. A check-in an offline kiosk spooled for an appointment that arrived
meanwhile merges into the existing arrival, flagged `offline_merged` on the desk queue. The store itself
refuses a second active arrival (migration 0011), not only the Python check. The same Idempotency-Key
still replays the stored answer byte for byte.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import re
import sqlite3
import subprocess
import threading
import uuid

import httpx
import pytest

from tests.sandbox import wait_until
from tools.central_seed import day_schedule

from .helpers import count_rows
from .launcher import EDGE_AGENT, RunningAgent

APPOINTMENTS = 4
STAFF = ("frontdesk", "visit-test-pass")


def identities(resources: list[dict]) -> dict[str, dict]:
    """appointment id -> the check-in identity of its patient."""
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    found = {}
    for resource in resources:
        if resource["resourceType"] != "Appointment":
            continue
        actor = next(p["actor"]["reference"] for p in resource["participant"] if p["actor"]["reference"].startswith("Patient/"))
        patient = patients[actor.removeprefix("Patient/")]
        name = patient["name"][0]
        found[resource["id"]] = {"family": name["family"], "given": name["given"][0], "birth_date": patient["birthDate"]}
    return found


def body_for(kiosk_id: str, appointment_id: str, patient: dict, **extra: object) -> dict:
    return {"checkin_id": str(uuid.uuid4()), "kiosk_id": kiosk_id, "appointment_id": appointment_id,
            "identity_source": "manual", "patient": patient, "consents": [], "answers": [], **extra}  # fmt: skip


def post(agent: RunningAgent, token: str, body: dict, key: str | None = None) -> httpx.Response:
    with agent.client() as client:
        return client.post("/api/v1/checkins", json=body,
                           headers=agent.headers(token, **{"Idempotency-Key": key or body["checkin_id"]}))  # fmt: skip


@pytest.fixture
def central_agent(launch_agent, sandbox):
    resources = day_schedule(dt.datetime.now(dt.UTC).date(), APPOINTMENTS)
    sandbox.seed(resources)
    agent = launch_agent(central={"kind": "fhir", "base_url": sandbox.url, "timeout_s": 5},
                         schedule={"source": "central", "scope": "whole-server"})  # fmt: skip
    wait_until(lambda: httpx.get(f"{agent.base_url}/healthz", timeout=5).json()["schedule_appointments"] == APPOINTMENTS,
               30, "the schedule pull")  # fmt: skip
    agent.enroll("kiosk-2")
    return agent, identities(resources)


def encounters_at_central(sandbox) -> int:
    return sandbox.stats()["resources"].get("Encounter", 0)


def test_two_kiosks_racing_for_each_visit_make_one_arrival_and_one_encounter(central_agent, sandbox) -> None:
    agent, patients = central_agent
    tokens = {"kiosk-1": agent.token, "kiosk-2": agent.extra_tokens["kiosk-2"]}
    answers: dict[str, list[httpx.Response]] = {}
    for appointment_id, patient in patients.items():
        bodies = [body_for(kiosk, appointment_id, patient) for kiosk in tokens for _ in range(2)]  # 2 tries each
        start = threading.Barrier(len(bodies))

        def race(body: dict) -> httpx.Response:
            start.wait()
            return post(agent, tokens[body["kiosk_id"]], body)

        with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
            answers[appointment_id] = list(pool.map(race, bodies))

    tickets = set()
    for appointment_id, responses in answers.items():
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 200, 200, 201], [r.text for r in responses]
        [first] = [r.json() for r in responses if r.status_code == 201]
        for repeat in (r.json() for r in responses if r.status_code == 200):
            assert repeat["ticket"] == first["ticket"] and repeat["flags"] == ["already_checked_in"]
        tickets.add(first["ticket"])
        assert count_rows(agent.store_path, "arrivals", "appointment_id = ?", (appointment_id,)) == 1
    assert len(tickets) == APPOINTMENTS
    assert count_rows(agent.store_path, "arrivals") == APPOINTMENTS == count_rows(agent.store_path, "outbox")
    assert count_rows(agent.store_path, "idempotency") == APPOINTMENTS  # the repeats stored nothing

    wait_until(lambda: count_rows(agent.store_path, "outbox", "status = 'delivered'") == APPOINTMENTS, 60, "delivery")
    assert encounters_at_central(sandbox) == APPOINTMENTS
    # The kiosk's board shows each ticket once.
    with agent.client() as client:
        board = client.get("/api/v1/board").json()
    assert sorted(board["waiting"]) == sorted(tickets)


def test_a_spooled_checkin_for_an_arrived_visit_merges_flagged_for_the_desk(central_agent, sandbox) -> None:
    agent, patients = central_agent
    appointment_id, patient = next(iter(patients.items()))
    online = post(agent, agent.token, body_for("kiosk-1", appointment_id, patient))
    assert online.status_code == 201, online.text
    existing = online.json()

    spooled_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)).isoformat(timespec="milliseconds")
    offline = body_for("kiosk-2", appointment_id, patient, offline={"kiosk_ticket": "K2-001", "spooled_at": spooled_at})
    merged = post(agent, agent.extra_tokens["kiosk-2"], offline)
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert answer["ticket"] == existing["ticket"] and answer["flags"] == ["already_checked_in"]
    assert answer["checkin_id"] == offline["checkin_id"]  # the spool matches the answer to its entry
    again = post(agent, agent.extra_tokens["kiosk-2"], offline)  # the spool retries: same answer, one flag
    assert again.status_code == 200 and again.json() == answer

    assert count_rows(agent.store_path, "arrivals", "appointment_id = ?", (appointment_id,)) == 1
    assert count_rows(agent.store_path, "arrivals", "checkin_id = ?", (offline["checkin_id"],)) == 0
    assert count_rows(agent.store_path, "outbox") == 1

    subprocess.run([*EDGE_AGENT, "add-staff", STAFF[0], "--role", "front_desk", "--password-stdin", "--config",
                    str(agent.config_path)], input=STAFF[1] + "\n", text=True, check=True, capture_output=True, timeout=60)  # fmt: skip
    with httpx.Client(base_url=agent.base_url, timeout=30, headers={"Origin": agent.base_url}) as desk:
        page = desk.get("/desk/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        desk.post("/desk/login", data={"username": STAFF[0], "password": STAFF[1], "csrf_token": csrf})
        queue = desk.get("/api/v1/queue")
    assert queue.status_code == 200, queue.text
    [entry] = [e for e in queue.json()["entries"] if e.get("appointment_id") == appointment_id]
    assert entry["ticket"] == existing["ticket"] and entry["flags"].count("offline_merged") == 1

    wait_until(lambda: count_rows(agent.store_path, "outbox", "status = 'delivered'") == 1, 60, "delivery")
    assert encounters_at_central(sandbox) == 1


def test_the_same_idempotency_key_still_replays_and_a_no_show_may_check_in_again(launch_agent) -> None:
    from .helpers import GARCIA
    from .launcher import today_demo_appointment_id

    agent = launch_agent()
    body = body_for("kiosk-1", today_demo_appointment_id(1), dict(GARCIA))
    first = post(agent, agent.token, body, key="visit-key-1")
    replay = post(agent, agent.token, body, key="visit-key-1")
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
    other = post(agent, agent.token, {**body, "checkin_id": str(uuid.uuid4())}, key="visit-key-2")
    assert other.status_code == 200 and other.json()["flags"] == ["already_checked_in"]
    assert other.json()["ticket"] == first.json()["ticket"]

    conn = sqlite3.connect(agent.store_path, timeout=30)  # the desk marks the visit a no-show ...
    try:
        with conn:
            conn.execute("UPDATE arrivals SET status = 'no_show' WHERE checkin_id = ?", (body["checkin_id"],))
    finally:
        conn.close()
    late = post(agent, agent.token, {**body, "checkin_id": str(uuid.uuid4())}, key="visit-key-3")
    assert late.status_code == 201 and late.json()["ticket"] != first.json()["ticket"]  # ... then they came


def test_the_store_itself_refuses_a_second_active_arrival(launch_agent) -> None:
    """Not only the check-in code: SQLite's unique index (migration 0011) refuses a second active arrival
    of one appointment from any writer."""
    from .helpers import checkin_body

    agent = launch_agent()
    body = checkin_body()
    assert post(agent, agent.token, body).status_code == 201
    conn = sqlite3.connect(agent.store_path, timeout=30)
    try:
        columns = "checkin_id, day, ticket, kiosk_id, appointment_id, identity_source, language, status, arrived_at, patient_key, details_sealed"
        row = conn.execute(f"SELECT {columns} FROM arrivals WHERE checkin_id = ?", (body["checkin_id"],)).fetchone()
        twin = (str(uuid.uuid4()), row[1], "Z-999", *row[3:])
        with pytest.raises(sqlite3.IntegrityError, match="arrivals.appointment_id"):
            with conn:
                conn.execute(f"INSERT INTO arrivals({columns}) VALUES ({', '.join('?' * len(twin))})", twin)
        walk_in = (str(uuid.uuid4()), row[1], "Z-998", row[3], None, *row[5:])  # no appointment: not one visit
        with conn:
            conn.execute(f"INSERT INTO arrivals({columns}) VALUES ({', '.join('?' * len(walk_in))})", walk_in)
    finally:
        conn.close()
