"""The HL7 v2 connector: ADT^A04 per check-in over MLLP (the `hl7` library on both ends), ACK handling."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import hl7
import pytest

from lobby_core.appointments import ScheduledAppointment
from edge_agent.central import connector_for
from edge_agent.central.hl7_ack import ack_error_text, judge_ack
from edge_agent.central.hl7v2 import adt_a04, control_id
from edge_agent.desk.dead_letters import dead_letters
from lobby_core.contract import CoverageInfo
from edge_agent.sync import SyncWorker
from tools.mllp_sandbox import MllpReceiver
from lobby_core.outbox_events import CheckinV1

from .conftest import checkin_payload, enqueue, site_config


def appointment(n: int, family: str = "O'Brien|Smith") -> ScheduledAppointment:
    return ScheduledAppointment(
        appointment_id=f"appt-{n}", start=dt.datetime.now(dt.timezone.utc), clinician="Dr. Chen",
        location="Suite 2", patient_id=f"pat-{n}", family=family, given="Aoife", birth_date=dt.date(1958, 3, 9),
        coverage=CoverageInfo(payor="Acme", member_id="M1"), mrn=f"MRN{n}",
    )  # fmt: skip


def test_adt_a04_carries_the_checkin_with_escaped_fields():
    payload = checkin_payload(appointment(1))
    message = hl7.parse(adt_a04(CheckinV1.model_validate(payload), "test-site"))
    checkin_id = payload["checkin"]["checkin_id"]
    assert str(message.segment("MSH")[9]) == "ADT^A04^ADT_A01"
    assert str(message.segment("MSH")[10]) == control_id(checkin_id) and len(control_id(checkin_id)) == 20
    pid = message.segment("PID")
    assert str(pid[3][0][0]) == "MRN1" and str(pid[7]) == "19580309"
    assert message.unescape(str(pid[5][0][0])) == "O'Brien|Smith" and str(pid[5][0][1]) == "Aoife"
    pv1 = message.segment("PV1")
    assert str(pv1[2]) == "O" and str(pv1[19][0][0]) == checkin_id and str(pv1[3]) == "Suite 2"
    assert str(message.segment("IN1")[36]) == "M1234567"


def run_worker(store, receiver_port, tmp_path, until, timeout=30.0, **central) -> SyncWorker:
    config = site_config(tmp_path / "agent", f"mllp://127.0.0.1:{receiver_port}", kind="hl7v2", **central)
    worker = SyncWorker(store, connector_for(config, store), config.central)

    async def drive():
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + timeout
        try:
            while not until(await asyncio.to_thread(store.outbox_stats)):
                assert time.monotonic() < deadline, f"{store.outbox_stats()} {worker.health}"
                await asyncio.sleep(0.02)
        finally:
            await worker.stop()
            await task

    return asyncio.get_event_loop().run_until_complete(drive()) or worker


def with_receiver(scenario):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    receiver = MllpReceiver()
    try:
        port = loop.run_until_complete(receiver.start())
        return scenario(receiver, port)
    finally:
        loop.run_until_complete(receiver.stop())
        loop.close()
        asyncio.set_event_loop(None)


def test_worker_delivers_over_mllp_and_retries_errors_lost_acks_and_dropped_connections(store, tmp_path):
    payloads = [checkin_payload(appointment(n)) for n in range(5)]
    for payload in payloads:
        enqueue(store, payload)

    def scenario(receiver: MllpReceiver, port: int) -> None:
        receiver.script = ["AE", "close", "silent"]  # an application error, a dropped connection, a lost ACK
        worker = run_worker(store, port, tmp_path, lambda s: s.pending == 0, timeout_s=1.0)
        ids = {control_id(p["checkin"]["checkin_id"]) for p in payloads}
        assert set(receiver.accepted) == ids  # each accepted once, in spite of the resends
        assert sum(receiver.received.values()) == 5 + 3
        assert worker.health.retried == 3 and store.outbox_stats().delivered == 5

    with_receiver(scenario)


def test_application_reject_goes_to_dead_letters_with_the_ack(store, tmp_path):
    rejected = enqueue(store, checkin_payload(appointment(7)))

    def scenario(receiver: MllpReceiver, port: int) -> None:
        receiver.script = ["AR"]
        run_worker(store, port, tmp_path, lambda s: s.dead == 1)
        row = store.read_sync(lambda c: c.execute("SELECT last_error, outcome FROM outbox WHERE id = ?", (rejected,)).fetchone())
        assert row["last_error"] == "ACK AR" and "MSA|AR|" in row["outcome"]
        assert receiver.accepted == {}

    with_receiver(scenario)


# --- AE, AR and the bounded retry ------------------------------------------------------------------

REFUSAL = "PID-3 needs an assigning authority for this facility"


def dead_letter(store):
    [letter] = store.read_sync(dead_letters)
    return letter


def test_a_receiver_answering_ae_every_time_gets_a_bounded_number_of_sends_then_a_dead_letter(store, tmp_path):
    payload = checkin_payload(appointment(3))
    enqueue(store, payload)

    def scenario(receiver: MllpReceiver, port: int) -> None:
        receiver.answer, receiver.error_text = "AE", REFUSAL
        run_worker(store, port, tmp_path, lambda s: s.dead == 1)
        limit = site_config(tmp_path, "mllp://127.0.0.1:1", kind="hl7v2").central.hl7_max_attempts
        assert receiver.received[control_id(payload["checkin"]["checkin_id"])] == limit > 1
        letter = dead_letter(store)  # what the desk's sync panel lists
        assert letter.attempts == limit and letter.error == "ACK AE"
        assert REFUSAL in letter.outcome and "207^Application internal error" in letter.outcome
        assert receiver.accepted == {}

    with_receiver(scenario)


@pytest.mark.parametrize(
    ("code", "policy", "sends"),
    [("AR", {"hl7_ar": "retry-then-dead-letter", "hl7_max_attempts": 3}, 3),
     ("AE", {"hl7_ae": "dead-letter"}, 1),
     ("AR", {"hl7_ar": "dead-letter", "hl7_max_attempts": 3}, 1)],
    ids=["AR-retried", "AE-not-retried", "AR-not-retried"],
)  # fmt: skip
def test_how_ae_and_ar_are_treated_is_the_sites_choice(store, tmp_path, code, policy, sends):
    payload = checkin_payload(appointment(4))
    enqueue(store, payload)

    def scenario(receiver: MllpReceiver, port: int) -> None:
        receiver.answer, receiver.error_text = code, REFUSAL
        run_worker(store, port, tmp_path, lambda s: s.dead == 1, **policy)
        assert receiver.received[control_id(payload["checkin"]["checkin_id"])] == sends
        letter = dead_letter(store)
        assert letter.error == f"ACK {code}" and REFUSAL in letter.outcome

    with_receiver(scenario)


def test_an_ar_retried_by_the_site_is_delivered_once_the_receiver_accepts(store, tmp_path):
    payload = checkin_payload(appointment(5))
    enqueue(store, payload)

    def scenario(receiver: MllpReceiver, port: int) -> None:
        receiver.script = ["AR", "AR"]  # "receiver down" in HL7 chapter 2's sense, then it is back
        worker = run_worker(store, port, tmp_path, lambda s: s.pending == 0, hl7_ar="retry-then-dead-letter")
        assert receiver.received[control_id(payload["checkin"]["checkin_id"])] == 3
        assert list(receiver.accepted) == [control_id(payload["checkin"]["checkin_id"])]
        assert worker.health.retried == 2 and store.outbox_stats().delivered == 1

    with_receiver(scenario)


def ack(*segments: str) -> hl7.Message:
    return hl7.parse("\r".join(["MSH|^~\\&|PM|C|LOBBY|S|20260101||ACK^A04^ACK|1|P|2.5.1", *segments]))


@pytest.mark.parametrize(
    ("segments", "text"),
    [
        (["MSA|AE|x", "ERR|||101^Required field missing^HL70357|E||||Birth date \\T\\ sex are required"],
         "ERR-3 101 Required field missing; ERR-8 Birth date & sex are required"),
        (["MSA|AE|x|Unknown facility"], "MSA-3 Unknown facility"),
        # v2.3/2.4: ERR-1 is segment^sequence^field^code (a CE)
        (["MSA|AR|x", "ERR|PID^1^7^102&Data type error&HL70357"], "ERR-1 PID-7: 102 Data type error"),
        (["MSA|AE|x", "ERR|||207|E||||first", "ERR|||207|E||||second"], "ERR-3 207; ERR-8 first | ERR-3 207; ERR-8 second"),
        (["MSA|AE|x"], ""),
    ],
    ids=["v2.5-err", "msa-3", "v2.3-err-1", "two-errs", "bare"],
)  # fmt: skip
def test_the_receivers_error_text_is_read_from_err_and_msa(segments, text):
    assert ack_error_text(ack(*segments)) == text


@pytest.mark.parametrize(
    ("code", "attempt", "outcome"),
    [("AA", 1, "delivered"), ("CA", 1, "delivered"), ("AE", 1, "retry"), ("CE", 1, "retry"), ("AE", 5, "rejected"),
     ("CE", 5, "rejected"), ("AR", 1, "rejected"), ("CR", 1, "rejected"), ("XX", 1, "retry"), ("XX", 5, "rejected")],
)  # fmt: skip
def test_ack_codes_follow_hl7_table_0008_under_the_default_policy(code, attempt, outcome):
    central = site_config(Path("unused"), "mllp://127.0.0.1:1", kind="hl7v2").central  # defaults: 5 attempts
    assert judge_ack(ack(f"MSA|{code}|x"), attempt, central).outcome == outcome
