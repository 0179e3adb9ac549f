"""The flow and its backend against a real agent process: check-in online, offline spool, exactly once."""

from __future__ import annotations

import datetime as dt
import queue
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from kiosk.agent_client import AgentClient, AgentRefused
from lobby_core.contract import CheckinRequest, LookupRequest, PatientIdentity
from lobby_core.demo import DEMO_PATIENTS
from tests.agent.launcher import today_demo_appointment_id
from kiosk.backend import KioskBackend
from kiosk.flow import Flow, FlowSettings, Step
from kiosk.spool import Spool
from tests.kiosk.samples import SIGNATURE

ROSSI = ("Rossi", "03031962")  # a demo-schedule patient; the same digits in MDY and DMY


class Kiosk:
    """A kiosk without a window: the flow, a real spool, the real backend, deliveries run on this thread."""

    def __init__(self, folder: Path, base_url: str, token: str):
        self.flow = Flow(FlowSettings(kiosk_id="kiosk-1"), clock=time.monotonic)
        self.spool = Spool(folder, "K1")
        self.deliveries: queue.Queue = queue.Queue()
        self.backend = KioskBackend(self.flow, self.spool, lambda: AgentClient(base_url, token, timeout_s=3),
                                    self.deliveries.put, heartbeat_s=3600)  # fmt: skip
        self.backend.start()

    def act(self, effects: list) -> None:
        self.backend.run(effects)

    def wait_for(self, *steps: Step, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while self.flow.step not in steps:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"still at {self.flow.step} waiting for {steps}"
            try:
                step = self.deliveries.get(timeout=remaining)
            except queue.Empty:
                continue
            self.act(step())

    def type_and_search(self, family: str, digits: str) -> None:
        self.flow.start()
        self.flow.type_by_hand()
        for char in family:
            self.flow.key(char)
        self.flow.focus("birth")
        for char in digits:
            self.flow.key(char)
        self.act(self.flow.submit_typed())

    def stop(self) -> None:
        self.backend.stop()
        self.spool.close()


def arrivals(agent) -> list[tuple[str, str, int]]:
    with sqlite3.connect(agent.store_path) as db:
        return db.execute("SELECT checkin_id, ticket, offline FROM arrivals ORDER BY arrived_at").fetchall()


@pytest.fixture
def kiosk_factory(tmp_path):
    started = []

    def make(agent) -> Kiosk:
        kiosk = Kiosk(tmp_path / "spool", agent.current.base_url, agent.current.token)
        started.append(kiosk)
        return kiosk

    yield make
    for kiosk in started:
        kiosk.stop()


def test_online_check_in_reaches_the_queue_with_signed_forms(agent, kiosk_factory):
    kiosk = kiosk_factory(agent)
    kiosk.type_and_search(*ROSSI)
    kiosk.wait_for(Step.CONFIRM)
    assert kiosk.flow.session.appointment.display_name.startswith("Giulia")
    kiosk.act(kiosk.flow.confirm())
    assert kiosk.flow.step is Step.REVIEW and kiosk.flow.on_file_hints.phone_ending  # "Is this still right?"
    kiosk.act(kiosk.flow.review_done())
    forms = 0
    while kiosk.flow.step is Step.FORMS:
        kiosk.flow.form_scrolled_to_end()  # what the forms screen reports once the text's end is shown
        kiosk.act(kiosk.flow.sign(SIGNATURE))
        forms += 1
    checkin_id = kiosk.flow.session.checkin_id
    kiosk.wait_for(Step.DONE)
    ticket = kiosk.flow.ticket
    assert not ticket.offline and ticket.position >= 1
    assert [(str(checkin_id), ticket.ticket, 0)] == arrivals(agent.current)
    board = AgentClient(agent.current.base_url, agent.current.token).board()
    assert ticket.ticket in board.waiting
    with sqlite3.connect(agent.current.store_path) as db:
        assert db.execute("SELECT count(*) FROM consents").fetchone()[0] == forms


def test_agent_away_spools_then_delivers_exactly_once_after_a_kiosk_restart(agent, kiosk_factory, tmp_path):
    kiosk = kiosk_factory(agent)
    agent.stop()
    kiosk.type_and_search("Nobody", "01011970")
    kiosk.wait_for(Step.OFFLINE)
    kiosk.act(kiosk.flow.check_in_offline())
    checkin_id = kiosk.flow.session.checkin_id
    kiosk.wait_for(Step.DONE)
    assert kiosk.flow.ticket.offline and kiosk.flow.ticket.ticket == "K1-001"
    kiosk.stop()  # the kiosk restarts while the agent is still away

    agent.restart()
    kiosk = kiosk_factory(agent)
    assert [r.checkin_id for r in kiosk.spool.pending()] == [checkin_id]
    delivery = kiosk.backend.forward_spool()
    assert (delivery.delivered, delivery.remaining) == (1, 0)
    assert kiosk.backend.forward_spool().delivered == 0
    assert arrivals(agent.current) == [(str(checkin_id), "K1-001", 1)]


def test_a_check_in_the_agent_committed_before_its_answer_was_lost_is_not_duplicated(agent, kiosk_factory):
    kiosk = kiosk_factory(agent)
    kiosk.type_and_search(*ROSSI)
    kiosk.wait_for(Step.CONFIRM)
    effects = kiosk.flow.confirm() + kiosk.flow.review_done()
    while kiosk.flow.step is Step.FORMS:
        kiosk.flow.form_scrolled_to_end()
        effects = kiosk.flow.sign(SIGNATURE)
    [submit] = effects  # not handed to the backend: this test plays the lost answer itself
    AgentClient(agent.current.base_url, agent.current.token).checkin(submit.request)  # committed, answer "lost"
    kiosk.spool.add(submit.request, dt.datetime.now(dt.timezone.utc))  # the kiosk spooled it meanwhile
    delivery = kiosk.backend.forward_spool()
    assert (delivery.delivered, delivery.rejected, delivery.remaining) == (1, 0, 0)
    assert [row[0] for row in arrivals(agent.current)] == [str(submit.request.checkin_id)]


def test_a_throttled_spool_waits_instead_of_dropping_the_check_in(agent, kiosk_factory):
    """A 429 (the lookup's limit, which check-ins share) is no verdict: the spooled check-in stays."""
    kiosk = kiosk_factory(agent)
    client = AgentClient(agent.current.base_url, agent.current.token)
    probe = LookupRequest(family="Nobody", birth_date=dt.date(1970, 1, 1))
    with pytest.raises(AgentRefused) as refused:
        for _ in range(100):
            client.lookup(probe)
    assert refused.value.status == 429
    family, given, born = next(p for p in DEMO_PATIENTS if p[0] == "Rossi")
    index = DEMO_PATIENTS.index((family, given, born)) + 1
    request = CheckinRequest(
        checkin_id=uuid.uuid4(), kiosk_id="kiosk-1", appointment_id=today_demo_appointment_id(index),
        identity_source="manual", patient=PatientIdentity(family=family, given=given, birth_date=dt.date.fromisoformat(born)),
    )  # fmt: skip
    kiosk.spool.add(request, dt.datetime.now(dt.timezone.utc))
    delivery = kiosk.backend.forward_spool()
    assert (delivery.delivered, delivery.rejected, delivery.remaining) == (0, 0, 1)
    assert [r.checkin_id for r in kiosk.spool.pending()] == [request.checkin_id]
