"""The HL7 v2 connector: ADT^A04 per check-in over MLLP (the `hl7` library on both ends), ACK handling."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import hl7

from edge_agent.appointments import ScheduledAppointment
from edge_agent.central import connector_for
from edge_agent.central.hl7v2 import adt_a04, control_id
from lobby_core.contract import CoverageInfo
from edge_agent.sync import SyncWorker
from tools.mllp_sandbox import MllpReceiver

from .conftest import checkin_payload, enqueue, site_config


def appointment(n: int, family: str = "O'Brien|Smith") -> ScheduledAppointment:
    return ScheduledAppointment(
        appointment_id=f"appt-{n}", start=dt.datetime.now(dt.timezone.utc), clinician="Dr. Chen",
        location="Suite 2", patient_id=f"pat-{n}", family=family, given="Aoife", birth_date=dt.date(1958, 3, 9),
        coverage=CoverageInfo(payor="Acme", member_id="M1"), mrn=f"MRN{n}",
    )  # fmt: skip


def test_adt_a04_carries_the_checkin_with_escaped_fields():
    payload = checkin_payload(appointment(1))
    message = hl7.parse(adt_a04(payload, "test-site"))
    checkin_id = payload["checkin"]["checkin_id"]
    assert str(message.segment("MSH")[9]) == "ADT^A04^ADT_A01"
    assert str(message.segment("MSH")[10]) == control_id(checkin_id) and len(control_id(checkin_id)) == 20
    pid = message.segment("PID")
    assert str(pid[3][0][0]) == "MRN1" and str(pid[7]) == "19580309"
    assert message.unescape(str(pid[5][0][0])) == "O'Brien|Smith" and str(pid[5][0][1]) == "Aoife"
    pv1 = message.segment("PV1")
    assert str(pv1[2]) == "O" and str(pv1[19]) == checkin_id and str(pv1[3]) == "Suite 2"
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
