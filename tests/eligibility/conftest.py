"""Fixtures for the eligibility tests: the clearinghouse simulator (tools/clearinghouse_sim.py) as a real
process, and a real agent (`edge-agent serve`) configured to ask it, with a signed-in staff client."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import types
import zoneinfo
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from lobby_core.appointments import ScheduledAppointment
from edge_agent.schedule import DEMO_PAYORS, demo_appointments
from tests.agent.launcher import RunningAgent, start_agent
from tests.desk.conftest import Staff, edge_agent_cli
from tests.processes import free_port, stop_process
from tests.sandbox import wait_until

REPO = Path(__file__).resolve().parents[2]
SITE_ID = "elig-test"
STAFF = ("frontdesk", "elig-frontdesk")
PAYER_IDS = {name: f"PAYER{index + 1:02d}" for index, name in enumerate(DEMO_PAYORS)}
NPI = "1234567893"


class Clearinghouse:
    """tools/clearinghouse_sim.py on a loopback port; restartable (same port) to play "down"."""

    def __init__(self, log: Path, *args: str):
        self.port = free_port()
        self.log = log
        self.args = args
        self.process: subprocess.Popen | None = None
        self.members: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/core"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.clearinghouse_sim", "--port", str(self.port), *self.args,
             *(f"--member={member}={scenario}" for member, scenario in self.members.items())],  # known before it listens
            cwd=REPO, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._ready, 30, "the clearinghouse simulator to answer")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"simulator exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/_control/requests", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=10)
        self.process = None

    def control(self, method: str, path: str, **kwargs) -> dict:
        response = httpx.request(method, f"http://127.0.0.1:{self.port}/_control/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def set_members(self, members: dict[str, str]) -> None:
        self.members.update(members)
        self.control("POST", "members", json=members)

    def fault(self, mode: str, **spec) -> None:
        self.control("POST", "faults", json={"mode": mode, **spec})

    def requests(self) -> list[dict]:
        return self.control("GET", "requests")["requests"]


def appointments_on(day: dt.date, site_id: str = SITE_ID) -> list[ScheduledAppointment]:
    return demo_appointments(site_id, day, zoneinfo.ZoneInfo("UTC"))


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def eligibility_section(url: str, **overrides) -> dict:
    section = {
        "kind": "x12-core", "url": url, "envelope": "soap", "sender_id": "CLINIC01", "receiver_id": "CLEARHOUSE",
        "provider_npi": NPI, "usage": "T", "batch_time": "23:59", "retry_base_s": 0.5, "retry_max_s": 2,
        "max_attempts": 6, "timeout_s": 3, "concurrency": 4,
        **{f'payer_ids."{name}"': payer_id for name, payer_id in PAYER_IDS.items()},
    }  # fmt: skip
    return {**section, **overrides}


def start_eligibility_agent(tmp_path: Path, url: str, **overrides) -> RunningAgent:
    agent = start_agent(tmp_path, site={"id": SITE_ID, "name": "Riverside Family Clinic", "timezone": "UTC"},
                        eligibility=eligibility_section(url, **overrides))  # fmt: skip
    edge_agent_cli("add-staff", STAFF[0], "--role", "front_desk", "--password-stdin", config=agent.config_path,
                   stdin=STAFF[1] + "\n")  # fmt: skip
    return agent


def staff_client(agent: RunningAgent) -> Staff:
    return Staff(types.SimpleNamespace(url=agent.base_url), *STAFF)


def check_in(agent: RunningAgent, appointment: ScheduledAppointment, checkin_id: str, **extra) -> dict:
    body = {
        "checkin_id": checkin_id, "kiosk_id": agent.kiosk_id, "appointment_id": appointment.appointment_id,
        "identity_source": "manual",
        "patient": {"family": appointment.family, "given": appointment.given, "birth_date": appointment.birth_date.isoformat()},
        **extra,
    }  # fmt: skip
    with agent.client() as client:
        response = client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": checkin_id}))
    assert response.status_code == 201, response.text
    return response.json()


def queue_entry(staff: Staff, checkin_id: str) -> dict:
    entries = staff.http.get("/api/v1/queue").json()["entries"]
    return next(entry for entry in entries if entry["checkin_id"] == checkin_id)


@pytest.fixture
def clearinghouse(tmp_path) -> Iterator[Clearinghouse]:
    sim = Clearinghouse(tmp_path / "clearinghouse.log")
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
