"""Remote-support fixtures: a real agent process (tests/agent/launcher.py) and headless kiosks that run the
real backend and support channel against it, with a real receipt-printer driver on the ESC/POS simulator."""

from __future__ import annotations

import datetime as dt
import queue
import sqlite3
import time
from pathlib import Path
from typing import Iterator

import pytest

from edge_agent.config import DeviceConfig
from kiosk.agent_client import AgentClient
from kiosk.backend import KioskBackend
from kiosk.devices.base import DeviceState
from kiosk.devices.receipt_printer import ReceiptPrinter
from kiosk.devices.ticket import Ticket
from kiosk.flow import Flow, FlowSettings, PrintTicket
from kiosk.simulators.receipt_printer import SimulatedReceiptPrinter
from kiosk.spool import Spool
from kiosk.support import KioskSupport, RecentLogs
from tests.agent.launcher import RunningAgent, start_agent


class HeadlessKiosk:
    """The flow, a real spool, the real backend with its support channel; no window (so no screenshot)."""

    def __init__(self, folder: Path, agent: RunningAgent, kiosk_id: str, token: str):
        self.kiosk_id = kiosk_id
        self.flow = Flow(FlowSettings(kiosk_id=kiosk_id), clock=time.monotonic)
        self.spool = Spool(folder, "K1")
        self.printer_sim = SimulatedReceiptPrinter()
        self.printer_sim.start()
        self.printer = ReceiptPrinter(DeviceConfig(kind="receipt_printer", name="receipt", transport="tcp",
                                                   host="127.0.0.1", tcp_port=self.printer_sim.port), lambda event: None)  # fmt: skip
        self.printer.open()
        deadline = time.monotonic() + 10
        while self.printer.status.state is not DeviceState.ONLINE and time.monotonic() < deadline:
            time.sleep(0.05)
        self.deliveries: queue.Queue = queue.Queue()
        self.backend = KioskBackend(self.flow, self.spool, lambda: AgentClient(agent.base_url, token, timeout_s=3),
                                    self.deliveries.put, heartbeat_s=3600,
                                    device_health=lambda: [self.printer.health()])  # fmt: skip
        support = KioskSupport(self.flow, logs=RecentLogs.install(), print_ticket=self._print,
                               device_check=self._check_devices)  # fmt: skip
        self.backend.attach_support(support, folder)
        self.backend.start()

    def _check_devices(self) -> list:
        self.printer.refresh_status()
        return [self.printer.health()]

    def _print(self, job: PrintTicket) -> bool:
        ticket = Ticket("Test Clinic", job.ticket, f"ticket:{job.ticket}", dt.datetime.now(dt.UTC), job.language)
        return self.printer.print_ticket(ticket).printed

    def stop(self) -> None:
        self.backend.stop()
        self.spool.close()
        self.printer.close()
        self.printer_sim.stop()


@pytest.fixture(scope="module")
def agent(tmp_path_factory) -> Iterator[RunningAgent]:
    running = start_agent(tmp_path_factory.mktemp("agent"))
    running.enroll("kiosk-2")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def kiosk(agent: RunningAgent, tmp_path: Path) -> Iterator[HeadlessKiosk]:
    started = HeadlessKiosk(tmp_path / "kiosk-1", agent, "kiosk-1", agent.token)
    try:
        yield started
    finally:
        started.stop()


def audit_rows(agent: RunningAgent, since_id: int = 0) -> list[sqlite3.Row]:
    with sqlite3.connect(agent.store_path) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM audit_log WHERE id > ? AND action LIKE 'support.%' ORDER BY id", (since_id,)).fetchall()


def last_audit_id(agent: RunningAgent) -> int:
    with sqlite3.connect(agent.store_path) as db:
        return db.execute("SELECT COALESCE(MAX(id), 0) FROM audit_log").fetchone()[0]
