"""A real agent asks the clearinghouse simulator over CAQH CORE (SOAP 1.2 and MIME): at start-up for
today's schedule, again at check-in when the card changed, the batch for tomorrow; failures (slow,
down, garbage, payer busy) show as "not verified" and are retried; every 270 passes pyx12; the log
holds control numbers, never member ids or birth dates."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.sandbox import wait_until

from .conftest import (
    PAYER_IDS, appointments_on, check_in, queue_entry, staff_client, start_eligibility_agent, today,
)  # fmt: skip

SCENARIOS = {0: "active", 1: "inactive", 2: "invalid_id", 3: "busy", 4: "many"}


def covered(appointments):
    return [a for a in appointments if a.coverage is not None]


def member_map(appointments) -> dict[str, str]:
    """Scenario by member id: the indexes above, the rest active."""
    return {a.coverage.member_id: SCENARIOS.get(i, "active") for i, a in enumerate(appointments) if a.coverage}


def wait_for_state(staff, checkin_id: str, state: str, timeout: float = 30) -> dict:
    def reached():
        entry = queue_entry(staff, checkin_id)
        return entry if entry["eligibility"].get("state") == state else None

    return wait_until(reached, timeout, f"eligibility {state} for {checkin_id}", every=0.2)


@pytest.mark.parametrize("envelope", ["soap", "mime"])
def test_opening_run_check_in_and_the_desk_view(tmp_path, clearinghouse, envelope):
    appointments = appointments_on(today())
    clearinghouse.set_members(member_map(appointments))
    agent = start_eligibility_agent(tmp_path, clearinghouse.url, envelope=envelope)
    staff = staff_client(agent)
    try:
        # At start-up (the evening batch was not run): every covered appointment of today is asked once.
        wait_until(lambda: len(clearinghouse.requests()) >= len(covered(appointments)), 30, "today's inquiries")
        requests = clearinghouse.requests()
        assert all(r["mode"] == envelope for r in requests)
        assert all(r["valid"] for r in requests), [r["problems"] for r in requests if not r["valid"]]
        assert all(r["PayloadType"] == "X12_270_Request_005010X279A1" and r["ProcessingMode"] == "RealTime"
                   and r["SenderID"] == "CLINIC01" and r["ReceiverID"] == "CLEARHOUSE" and r["CORERuleVersion"]
                   and r["PayloadID"] and r["TimeStamp"].endswith("Z") for r in requests)  # fmt: skip
        assert len({r["isa13"] for r in requests}) == len(requests)  # control numbers never repeat
        assert {r["member_id"] for r in requests} == {a.coverage.member_id for a in covered(appointments)}
        assert all(r["service_types"] == ["30", "98"] for r in requests)

        active = check_in(agent, appointments[0], str(uuid.uuid4()))
        entry = wait_for_state(staff, active["checkin_id"], "verified")
        assert entry["eligibility"]["copay"] == "25.00"
        assert "coverage_inactive" not in entry["flags"]

        inactive = check_in(agent, appointments[1], str(uuid.uuid4()))
        entry = wait_for_state(staff, inactive["checkin_id"], "inactive")
        assert entry["eligibility"]["reason"].startswith("Coverage inactive (ended ")
        assert "coverage_inactive" in entry["flags"]

        rejected = check_in(agent, appointments[2], str(uuid.uuid4()))
        entry = wait_for_state(staff, rejected["checkin_id"], "inactive")
        assert entry["eligibility"]["reason"] == "Invalid member ID"
        assert "coverage_inactive" in entry["flags"]

        # A fresh answer from the opening run was reused: no new inquiry for these three.
        asked = [r["member_id"] for r in clearinghouse.requests()]
        assert asked.count(appointments[0].coverage.member_id) == 1

        # "Payer unable to respond now" (AAA 42): not verified, asked again with backoff, never hidden.
        busy = check_in(agent, appointments[3], str(uuid.uuid4()))
        entry = wait_for_state(staff, busy["checkin_id"], "not_verified")
        assert entry["eligibility"]["reason"] == "The payer could not answer now"
        wait_until(lambda: [r["member_id"] for r in clearinghouse.requests()].count(appointments[3].coverage.member_id) >= 3,
                   30, "retries of the busy payer")  # fmt: skip

        # The full answer in the details view, audited.
        details = staff.http.get(f"/api/v1/queue/{active['checkin_id']}/eligibility").json()
        assert details["state"] == "verified" and details["payer"] == appointments[0].coverage.payor
        summary = details["summary"]
        assert summary["plan_name"] == "GOLD PPO 500" and summary["network"] == "Y"
        assert summary["coinsurance_percent"] == "20" and summary["deductible_remaining"] == "350"
        assert summary["plan_begin"] == f"{today().year}-01-01"
        audit = agent.store_path  # the audit log names the view, not the patient
        import sqlite3

        with sqlite3.connect(audit) as db:
            actions = [row[0] for row in db.execute("SELECT action FROM audit_log WHERE subject = ?", (active["checkin_id"],))]
        assert "eligibility.view" in actions

        # A new card at check-in: asked again at once, for the new member id, with the mapped payer id.
        new_card = {"payor": "Evergreen Mutual", "member_id": "NEWCARD777", "source": "card"}
        clearinghouse.set_members({"NEWCARD777": "inactive"})
        changed = check_in(agent, appointments[4], str(uuid.uuid4()), coverage=new_card)
        entry = wait_for_state(staff, changed["checkin_id"], "inactive")
        assert "NEWCARD777" in [r["member_id"] for r in clearinghouse.requests()]
        assert all(r["valid"] for r in clearinghouse.requests())
    finally:
        staff.close()
        agent.stop()
    log = agent.log_text()
    assert "eligibility answered" in log and "control_number" in log
    for appointment in covered(appointments):
        assert appointment.coverage.member_id not in log
        assert appointment.birth_date.isoformat() not in log
        assert appointment.birth_date.strftime("%Y%m%d") not in log
        assert appointment.family not in log
    assert "NEWCARD777" not in log


@pytest.mark.parametrize("fault", ["slow", "down", "garbage", "bad_envelope"])
def test_a_failing_clearinghouse_shows_not_verified_then_the_retry_verifies(tmp_path, clearinghouse, fault):
    appointments = appointments_on(today())
    clearinghouse.set_members({a.coverage.member_id: "active" for a in covered(appointments)})
    # Every inquiry fails until the fault is lifted (slow: beyond the agent's 3 s time-out).
    clearinghouse.fault(fault, count=10_000, delay_s=6)
    agent = start_eligibility_agent(tmp_path, clearinghouse.url, max_attempts=50)
    staff = staff_client(agent)
    try:
        first = check_in(agent, appointments[0], str(uuid.uuid4()))
        seen = wait_for_state(staff, first["checkin_id"], "not_verified", timeout=60)
        while seen["eligibility"]["reason"] == "Waiting for the payer's answer":
            seen = wait_for_state(staff, first["checkin_id"], "not_verified", timeout=60)
        assert seen["eligibility"]["reason"] != "Waiting for the payer's answer" and seen["eligibility"]["retry_at"]
        clearinghouse.control("DELETE", "faults")
        entry = wait_for_state(staff, first["checkin_id"], "verified", timeout=90)
        assert entry["eligibility"]["copay"] == "25.00"
        requests = clearinghouse.requests()
        assert any(r["fault"] == fault for r in requests)
        answered = [r for r in requests if r.get("member_id") == appointments[0].coverage.member_id and not r["fault"]]
        assert answered and all(r["valid"] for r in requests if "valid" in r)
    finally:
        staff.close()
        agent.stop()
    assert "eligibility not verified" in agent.log_text()


def test_clearinghouse_process_down_then_back(tmp_path, clearinghouse):
    appointments = appointments_on(today())
    clearinghouse.set_members({a.coverage.member_id: "active" for a in covered(appointments)})
    clearinghouse.stop()
    agent = start_eligibility_agent(tmp_path, clearinghouse.url, max_attempts=50)
    staff = staff_client(agent)
    try:
        arrival = check_in(agent, appointments[0], str(uuid.uuid4()))
        entry = wait_for_state(staff, arrival["checkin_id"], "not_verified")
        assert entry["eligibility"]["reason"] == "The clearinghouse could not be reached"
        clearinghouse.start()
        wait_for_state(staff, arrival["checkin_id"], "verified", timeout=60)
    finally:
        staff.close()
        agent.stop()


def test_evening_batch_asks_for_tomorrows_schedule(tmp_path, clearinghouse):
    tomorrow = today() + dt.timedelta(days=1)
    upcoming = appointments_on(tomorrow)
    clearinghouse.set_members(member_map(upcoming) | member_map(appointments_on(today())))
    agent = start_eligibility_agent(tmp_path, clearinghouse.url, batch_time="00:00")
    try:
        wanted = {a.coverage.member_id for a in covered(upcoming)}
        wait_until(lambda: wanted <= {r["member_id"] for r in clearinghouse.requests()}, 60, "tomorrow's inquiries")
        assert all(r["valid"] for r in clearinghouse.requests())
    finally:
        agent.stop()
    import sqlite3

    with sqlite3.connect(agent.store_path) as db:
        days = {row[0] for row in db.execute("SELECT day FROM eligibility_checks")}
        states = {row[0] for row in db.execute("SELECT state FROM eligibility_checks WHERE day = ?", (tomorrow.isoformat(),))}
    assert tomorrow.isoformat() in days and "verified" in states
    assert "eligibility batch scheduled" in agent.log_text()
    assert set(PAYER_IDS.values())  # payer ids were mapped (the 270 NM109 of 2100A), see test_x12.py
