"""Exactly once with insurance cards: a backlog of check-ins that each carry a scanned card (both sides as
JPEG), built while central is down, drained by the real agent process while it is SIGKILLed mid-delivery.
Central ends with exactly one DocumentReference and one Coverage per check-in, under the one-transaction
strategy and with transactions of at most 2 entries (the card then goes in a part of its own)."""

from __future__ import annotations

import datetime as dt

import pytest

from tools.central_seed import day_schedule

from tests.card_jpegs import card_scan
from tests.sandbox import Sandbox, wait_until
from .conftest import IDENTIFIER_SYSTEM, kill_during_drain
from .test_crash import checkin_request

BACKLOG = 30
KILLS = 2
KILL_EVERY = 8  # encounters at central between kills
STRATEGIES = {
    "transaction": ((), {}),
    "split-transactions": (("--max-transaction-entries", "2"), {"max_transaction_entries": 2}),
}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_sigkill_mid_delivery_leaves_one_document_reference_and_one_coverage_per_card(strategy, tmp_path, agent_factory):
    mode_args, capabilities = STRATEGIES[strategy]
    sandbox = Sandbox(tmp_path / "central.sqlite", tmp_path / "sandbox.log", mode_args)
    sandbox.start()
    try:
        today = dt.datetime.now(dt.timezone.utc).date()
        resources = day_schedule(today, BACKLOG)
        sandbox.seed(resources)
        patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
        agent = agent_factory(sandbox.url, capabilities={"strategy": strategy, **capabilities})
        agent.start()
        wait_until(lambda: agent.health()["schedule_appointments"] == BACKLOG, 30, "today's schedule from central")

        sandbox.stop()
        member_ids, checkin_ids = [], []
        for n in range(BACKLOG):
            member_id = f"CR{n:06d}X"
            body = {**checkin_request(patients[f"pat-{n}"], f"appt-{n}"), "insurance_card": card_scan(member_id)}
            response = agent.post("checkins", body, **{"Idempotency-Key": body["checkin_id"]})
            assert response.status_code == 201, response.text
            checkin_ids.append(body["checkin_id"])
            member_ids.append(member_id)
        assert agent.health()["outbox_depth"] == BACKLOG

        def cards() -> int:
            return sandbox.stats()["resources"].get("DocumentReference", 0)

        kill_during_drain(agent, sandbox, cards, kills=KILLS, every=KILL_EVERY, backlog=BACKLOG)

        wait_until(lambda: agent.health()["outbox_depth"] == 0, 90, "the outbox to drain")
        assert agent.health()["dead_letters"] == 0
        expected = {checkin_id: 1 for checkin_id in checkin_ids}
        assert sandbox.identifier_counts("DocumentReference", f"{IDENTIFIER_SYSTEM}/insurance-card") == expected
        assert sandbox.identifier_counts("Coverage", f"{IDENTIFIER_SYSTEM}/coverage") == expected
        assert sandbox.identifier_counts("Encounter", f"{IDENTIFIER_SYSTEM}/checkin") == expected
        assert sandbox.stats()["resources"]["DocumentReference"] == BACKLOG

        log = agent.all_logs()
        for member_id in member_ids:
            assert member_id not in log
    finally:
        sandbox.stop()
