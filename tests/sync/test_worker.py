"""The sync worker against the real sandbox process: retries, backoff, dead letters, order, exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import time

import httpx
import pytest

from edge_agent.central import connector_for
from edge_agent.central.fhir import classify, retry_after_seconds
from edge_agent.store import Store
from edge_agent.sync import IDLE_CHECK_S, SyncWorker, backoff_s
from tools.central_seed import day_schedule

from tests.sandbox import wait_until
from .conftest import IDENTIFIER_SYSTEM, checkin_payload, enqueue, pull_schedule, site_config

ENCOUNTERS = f"{IDENTIFIER_SYSTEM}/checkin"


@pytest.fixture
def schedule(sandbox, tmp_path):
    sandbox.seed(day_schedule(dt.date.today(), 12))
    return pull_schedule(sandbox.url, tmp_path / "agent", dt.date.today())


async def run_until(worker: SyncWorker, store: Store, condition, timeout: float = 30.0) -> float:
    """Run the worker until `condition(outbox_stats)` holds; returns the seconds it took."""
    started = time.monotonic()
    task = asyncio.create_task(worker.run())
    try:
        while not condition(await asyncio.to_thread(store.outbox_stats)):
            if task.done():
                task.result()
                raise AssertionError("the sync worker stopped by itself")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"outbox not drained in {timeout}s: {store.outbox_stats()} {worker.health}")
            await asyncio.sleep(0.02)
        return time.monotonic() - started
    finally:
        await worker.stop()
        await task


def drained(stats) -> bool:
    return stats.pending == 0


def worker_for(store: Store, sandbox, tmp_path, **central) -> SyncWorker:
    config = site_config(tmp_path / "agent", sandbox.url, **central)
    return SyncWorker(store, connector_for(config, store), config.central)


def checkin_ids(payloads: list[dict]) -> list[str]:
    return [p["checkin"]["checkin_id"] for p in payloads]


def test_backlog_is_delivered_once_each_and_in_order_per_patient(store, sandbox, schedule, tmp_path):
    # three visits of the same patient (in this order) among other patients' check-ins
    same_patient = [checkin_payload(schedule[0]) for _ in range(3)]
    others = [checkin_payload(appointment) for appointment in schedule[1:9]]
    for index, payload in enumerate(others):
        enqueue(store, payload)
        if index % 3 == 0:
            enqueue(store, same_patient[index // 3], patient_key="patient-0")
    sandbox.fault("status", status=503, count=1)  # the first delivery fails; its successors must wait

    worker = worker_for(store, sandbox, tmp_path)
    asyncio.run(run_until(worker, store, drained))

    counts = sandbox.identifier_counts("Encounter", ENCOUNTERS)
    assert counts == {checkin_id: 1 for checkin_id in checkin_ids(same_patient + others)}
    stored = sandbox.read(f"Encounter?subject=Patient/{schedule[0].patient_id}").json()["entry"]
    arrival_order = [entry["resource"]["identifier"][0]["value"] for entry in stored]
    assert arrival_order == checkin_ids(same_patient)
    assert store.outbox_stats().delivered == 11 and worker.health.retried >= 1
    assert sandbox.read(f"Appointment/{schedule[5].appointment_id}").json()["status"] == "arrived"


@pytest.mark.parametrize(
    ("fault", "errors"),
    [
        ({"mode": "status", "status": 500, "count": 3}, {"HTTP 500"}),
        ({"mode": "status", "status": 408, "count": 2}, {"HTTP 408"}),
        ({"mode": "reset", "count": 3}, {"ReadError", "RemoteProtocolError", "WriteError"}),
        # past the 2 s client timeout, and then the server commits anyway
        ({"mode": "hang", "hang_s": 3.0, "count": 2}, {"timeout"}),
    ],
    ids=["500", "408", "connection-reset", "hang-past-timeout"],
)
def test_transient_failures_are_retried_and_nothing_arrives_twice(store, sandbox, schedule, tmp_path, fault, errors):
    payloads = [checkin_payload(appointment) for appointment in schedule[:6]]
    for payload in payloads:
        enqueue(store, payload)
    sandbox.fault(**fault, methods=["POST"])

    worker = worker_for(store, sandbox, tmp_path)
    asyncio.run(run_until(worker, store, drained))

    assert sandbox.stats()["faults_pending"] == 0
    assert worker.health.retried >= 1 and worker.health.last_error in errors
    if fault["mode"] == "hang":  # the abandoned requests commit late at the server, after their resends
        wait_until(lambda: sandbox.stats()["transactions"] == len(payloads) + fault["count"], 15, "late commits")
    assert sandbox.identifier_counts("Encounter", ENCOUNTERS) == {c: 1 for c in checkin_ids(payloads)}
    for system in ("coverage", "intake"):
        assert sorted(sandbox.identifier_counts(
            "Coverage" if system == "coverage" else "QuestionnaireResponse", f"{IDENTIFIER_SYSTEM}/{system}"
        ).values()) == [1] * len(payloads)


@pytest.mark.parametrize("http_date", [False, True], ids=["seconds", "http-date"])
def test_429_retry_after_is_honoured(store, sandbox, schedule, tmp_path, http_date):
    enqueue(store, checkin_payload(schedule[0]))
    # an HTTP date has one-second resolution and starts counting now, a delay when the 429 is sent
    retry_after = email.utils.formatdate(time.time() + 4, usegmt=True) if http_date else "2"
    sandbox.fault("status", status=429, retry_after=retry_after, methods=["POST"])

    worker = worker_for(store, sandbox, tmp_path, max_backoff_s=0.1)  # jitter alone would retry at once
    took = asyncio.run(run_until(worker, store, drained))

    assert took >= 2.0
    assert worker.health.retried == 1 and sandbox.stats()["requests"]["POST"] == 2


def test_rejection_goes_to_dead_letters_with_the_outcome_and_requeue_resends(store, sandbox, schedule, tmp_path):
    rejected, fine = checkin_payload(schedule[0]), checkin_payload(schedule[1])
    rejected_id = enqueue(store, rejected)
    enqueue(store, fine)
    sandbox.fault("status", status=422, diagnostics="Coverage.payor: unknown payer", methods=["POST"])

    worker = worker_for(store, sandbox, tmp_path)
    asyncio.run(run_until(worker, store, lambda s: s.pending == 0 and s.dead == 1))

    row = store.read_sync(lambda c: c.execute("SELECT status, last_error, outcome FROM outbox WHERE id = ?", (rejected_id,)).fetchone())
    assert row["status"] == "dead" and row["last_error"] == "HTTP 422"
    outcome = json.loads(row["outcome"])
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"] == "Coverage.payor: unknown payer"
    assert sandbox.identifier_counts("Encounter", ENCOUNTERS) == {fine["checkin"]["checkin_id"]: 1}

    assert store.requeue(rejected_id)
    worker = worker_for(store, sandbox, tmp_path)
    asyncio.run(run_until(worker, store, lambda s: s.pending == 0 and s.dead == 0))
    assert sandbox.identifier_counts("Encounter", ENCOUNTERS) == {c: 1 for c in checkin_ids([rejected, fine])}


def test_an_event_the_agent_cannot_make_valid_fhir_is_dead_lettered_without_patient_data(store, sandbox, schedule, tmp_path):
    payload = checkin_payload(schedule[0])
    payload["arrived_at"] = "2026-11-23T10:00:00"  # FHIR requires a time zone on a dateTime with a time
    item_id = enqueue(store, payload)
    worker = worker_for(store, sandbox, tmp_path)
    asyncio.run(run_until(worker, store, lambda s: s.dead == 1))
    outcome = store.read_sync(lambda c: c.execute("SELECT outcome FROM outbox WHERE id = ?", (item_id,)).fetchone())[0]
    assert json.loads(outcome)["resourceType"] == "OperationOutcome" and "period.start" in outcome
    assert "2026-11-23T10:00:00" not in outcome and schedule[0].family not in outcome and schedule[0].birth_date.isoformat() not in outcome
    assert sandbox.stats()["requests"].get("POST", 0) == 0


def test_new_checkin_is_sent_promptly_after_notify(store, sandbox, schedule, tmp_path):
    worker = worker_for(store, sandbox, tmp_path)

    async def scenario() -> float:
        task = asyncio.create_task(worker.run())
        try:
            await asyncio.sleep(0.5)  # the worker is idle, waiting
            await store.write(lambda conn: store.enqueue(
                conn, "checkin.v1", "x", "k", checkin_payload(schedule[0], checkin_id="0b0b0b0b-0000-4000-8000-000000000001")))
            enqueued = time.monotonic()
            worker.notify()
            while (await asyncio.to_thread(store.outbox_stats)).pending:
                await asyncio.sleep(0.01)
                assert time.monotonic() - enqueued < 10
            return time.monotonic() - enqueued
        finally:
            await worker.stop()
            await task

    assert asyncio.run(scenario()) < IDLE_CHECK_S / 2  # without notify() it would wait for the idle check
    assert worker.health.central_reachable is True and worker.health.last_success_at


def test_central_down_pauses_everything_and_health_says_so(store, tmp_path, schedule):
    enqueue(store, checkin_payload(schedule[0]))
    config = site_config(tmp_path / "agent", "http://127.0.0.1:9")  # nothing listens there
    worker = SyncWorker(store, connector_for(config, store), config.central)

    async def scenario() -> None:
        task = asyncio.create_task(worker.run())
        try:
            deadline = time.monotonic() + 10
            while worker.health.retried < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
        finally:
            await worker.stop()
            await task

    asyncio.run(scenario())
    assert worker.health.central_reachable is False and worker.health.last_error == "ConnectError"
    stats = store.outbox_stats()
    assert stats.pending == 1 and stats.delivered == 0


def test_backoff_is_jittered_capped_and_respects_retry_after():
    delays = [backoff_s(failures, cap_s=4.0) for failures in range(12) for _ in range(50)]
    assert 0 <= min(delays) and max(delays) <= 4.0 and len(set(delays)) > 100
    assert all(backoff_s(failures, cap_s=4.0, retry_after_s=7.0) >= 7.0 for failures in range(5))


def test_retry_after_parses_seconds_and_http_dates():
    now = time.time()
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_2xx_that_is_not_a_transaction_response_is_not_taken_for_a_delivery():
    sent = [("POST", "Encounter")]
    page = httpx.Response(200, text="<html>proxy login</html>", headers={"content-type": "text/html"})
    assert classify(page, sent).outcome == "retry"
    entries = [{"response": {"status": "201 Created"}}]
    answer = httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response", "entry": entries})
    assert classify(answer, sent).outcome == "delivered"
    refused = httpx.Response(409, json={"resourceType": "OperationOutcome"})
    assert (classify(refused, sent).outcome, classify(refused, sent).server_outcome) == ("rejected", refused.text)
