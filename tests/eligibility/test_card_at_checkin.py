"""A scanned card at check-in, against the clearinghouse simulator: a card whose coverage differs from what
was last verified is asked again (after the commit: the check-in is answered first), and a patient whose
answer today says inactive is told only `insurance_see_desk` — the kiosk's answer carries nothing else
about the file or the payer."""

from __future__ import annotations

import sqlite3
import uuid

from edge_agent.checkin import KIOSK_FLAGS
from lobby_core.contract import CheckinResponse
from tests.card_jpegs import card_scan
from tests.sandbox import wait_until

from .conftest import appointments_on, check_in, queue_entry, staff_client, start_eligibility_agent, today
from .test_agent_clearinghouse import covered, wait_for_state


def answered(agent) -> int:
    with sqlite3.connect(agent.store_path) as db:
        return db.execute("SELECT COUNT(*) FROM eligibility_checks WHERE state IN ('verified', 'inactive')").fetchone()[0]


def card_of(appointment, member_id: str | None = None) -> dict:
    """What the kiosk sends for a scanned card: the scan, and the confirmed fields as `coverage`."""
    coverage = appointment.coverage
    member = member_id or coverage.member_id
    scan = card_scan(member, review=(), corrected=())
    scan["fields"]["payer_name"]["value"] = coverage.payor
    return {"insurance_card": scan,
            "coverage": {"payor": coverage.payor, "member_id": member, "group": coverage.group, "source": "card"}}


def test_inactive_today_tells_the_kiosk_to_see_the_desk_and_a_new_card_is_asked_again(tmp_path, clearinghouse):
    appointments = covered(appointments_on(today()))
    active, inactive, changed = appointments[0], appointments[1], appointments[2]
    clearinghouse.set_members({a.coverage.member_id: "active" for a in appointments} | {inactive.coverage.member_id: "inactive"})
    agent = start_eligibility_agent(tmp_path, clearinghouse.url)
    staff = staff_client(agent)
    try:
        wait_until(lambda: answered(agent) >= len(appointments), 30, "the opening run's answers")

        told = check_in(agent, inactive, str(uuid.uuid4()), **card_of(inactive))
        assert told["flags"] == ["insurance_see_desk"]
        assert set(told) == set(CheckinResponse.model_fields)  # the kiosk's answer, nothing more
        assert set(told["flags"]) <= KIOSK_FLAGS
        for secret in (inactive.coverage.member_id, inactive.coverage.payor, "inactive", inactive.family):
            assert secret not in str(told)
        assert "coverage_inactive" in wait_for_state(staff, told["checkin_id"], "inactive")["flags"]  # the desk's

        fine = check_in(agent, active, str(uuid.uuid4()), **card_of(active))
        assert "insurance_see_desk" not in fine["flags"]
        wait_for_state(staff, fine["checkin_id"], "verified")

        # A card other than the one verified this morning: answered at once (not verified yet), then asked again.
        clearinghouse.set_members({"CARDNEW55": "active"})
        clearinghouse.fault("slow", count=1, delay_s=2)  # the payer takes its time; the check-in does not wait
        before = [r.get("member_id") for r in clearinghouse.requests()].count("CARDNEW55")
        new = check_in(agent, changed, str(uuid.uuid4()), **card_of(changed, "CARDNEW55"))
        assert before == 0 and "insurance_see_desk" not in new["flags"]
        assert queue_entry(staff, new["checkin_id"])["eligibility"].get("state") in (None, "not_verified")
        wait_until(lambda: "CARDNEW55" in [r.get("member_id") for r in clearinghouse.requests()], 30, "the re-check")
        wait_for_state(staff, new["checkin_id"], "verified", timeout=60)
    finally:
        staff.close()
        agent.stop()
    log = agent.log_text()
    for secret in ("CARDNEW55", *(a.coverage.member_id for a in appointments)):
        assert secret not in log
