"""Fixtures for the sync tests: a real FHIR sandbox process, a real Store, check-in payloads."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import uuid
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from lobby_core.appointments import ScheduledAppointment
from edge_agent.central import connector_for
from edge_agent.config import from_mapping
from edge_agent.keys import SiteKey
from edge_agent.store import Store
from tests.agent.launcher import RunningAgent, start_agent
from tests.sandbox import wait_until

REPO = Path(__file__).resolve().parents[2]
IDENTIFIER_SYSTEM = "urn:test-site"


def site_config(data_dir: Path, central_url: str, schedule: dict | None = None, timezone: str = "UTC", **central):
    return from_mapping(
        {
            "site": {"id": "test-site", "timezone": timezone},
            "agent": {"data_dir": str(data_dir), "key_file": str(data_dir / "site.key"), "advertise": False},
            "central": {
                "kind": "fhir", "base_url": central_url, "timeout_s": 2.0, "max_backoff_s": 1.0,
                "identifier_system": IDENTIFIER_SYSTEM, "concurrency": 4, **central,
            },
            "schedule": schedule or {"scope": "whole-server"},
        }
    )


def pull_schedule(
    central_url: str, data_dir: Path, day: dt.date, schedule: dict | None = None, timezone: str = "UTC"
) -> list[ScheduledAppointment]:
    """Today's schedule from the central server, through the real FHIR connector."""
    connector = connector_for(site_config(data_dir, central_url, schedule, timezone))

    async def pull() -> list[ScheduledAppointment]:
        try:
            return await connector.fetch_schedule(day)
        finally:
            await connector.aclose()

    return asyncio.run(pull())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    data = tmp_path / "agent"
    data.mkdir()
    opened = Store(data / "agent.db", SiteKey.load_or_create(data / "site.key"))
    try:
        yield opened
    finally:
        opened.close()


def appointment_json(appointment: ScheduledAppointment) -> dict:
    from edge_agent.schedule import appointment_to_json

    return appointment_to_json(appointment)


def checkin_payload(
    appointment: ScheduledAppointment | None,
    *,
    checkin_id: str | None = None,
    with_card: bool = True,
    with_answers: bool = True,
) -> dict:
    """The `checkin.v1` payload the agent's check-in transaction writes (see edge_agent/checkin.py)."""
    checkin_id = checkin_id or str(uuid.uuid4())
    patient = (
        {"family": appointment.family, "given": appointment.given, "birth_date": appointment.birth_date.isoformat()}
        if appointment
        else {"family": "Walk-In", "given": "Sam", "birth_date": "1970-01-02"}
    )
    checkin = {
        "checkin_id": checkin_id,
        "kiosk_id": "kiosk-1",
        "appointment_id": appointment.appointment_id if appointment else None,
        "identity_source": "aamva",
        "patient": patient,
        "coverage": {"payor": "Acme Health", "member_id": "M1234567", "group": "G-1", "plan": "Gold",
                     "valid_until": "2027-12-31", "source": "card"} if with_card else None,
        "demographics": {"address": {"street": "1 Oak Ave", "city": "Springfield", "state": "IL",
                                     "postal_code": "62701", "country": "USA"}, "phone": "555-0100"},
        "answers": [
            {"link_id": "fever", "text": "Fever in the last 3 days?", "value": False},
            {"link_id": "pain", "text": "Pain (0-10)", "value": 3},
            {"link_id": "temp", "text": "Temperature", "value": 37.2},
            {"link_id": "reason", "text": "Reason for visit", "value": "cough"},
            {"link_id": "skipped", "text": "Anything else?", "value": None},
        ] if with_answers else [],
        "language": "en",
    }
    return {
        "checkin": checkin,
        "ticket": "A-014",
        "arrived_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "site_id": "test-site",
        "site_name": "Test Clinic",
        "appointment": appointment_json(appointment) if appointment else None,
        "consent_ids": [],
        "flags": [],
    }


def enqueue(store: Store, payload: dict, patient_key: str | None = None) -> int:
    checkin_id = payload["checkin"]["checkin_id"]
    key = patient_key or (payload["appointment"] or {}).get("patient_id") or checkin_id
    return store.write_sync(lambda conn: store.enqueue(conn, "checkin.v1", checkin_id, key, payload))


class CentralAgent:
    """The real edge agent (tests/agent/launcher.py) syncing to `central_url`; restartable on its data."""

    def __init__(self, folder: Path, central_url: str, schedule: dict | None = None,
                 capabilities: dict | None = None, **central):  # fmt: skip
        self.folder = folder
        self.settings = {
            "central": {
                "kind": "fhir", "base_url": central_url, "timeout_s": 2.0, "max_backoff_s": 1.0,
                "identifier_system": IDENTIFIER_SYSTEM, "concurrency": 4, **central,
            },
            "central.capabilities": capabilities or {},
            "schedule": {"source": "central", "refresh_s": 5, **(schedule or {"scope": "whole-server"})},
        }
        self.running: RunningAgent | None = None
        self.logs: list[str] = []  # of the processes before the current one

    def start(self) -> None:
        port = self.running.port if self.running else None
        self.running = start_agent(self.folder, port=port, **self.settings)

    def kill(self) -> None:
        self.running.stop(signal.SIGKILL)
        self.logs.append(self.running.log_text())

    def stop(self) -> None:
        if self.running is not None and self.running.process.poll() is None:
            self.running.stop()
            self.logs.append(self.running.log_text())

    def all_logs(self) -> str:
        current = self.running.log_text() if self.running and self.running.process.poll() is None else ""
        return "\n".join([*self.logs, current])

    def health(self) -> dict:
        return httpx.get(f"{self.running.base_url}/healthz", timeout=10).json()

    def post(self, path: str, body: dict, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.running.base_url}/api/v1/{path}", json=body, timeout=30, headers=self.running.headers(**headers)
        )


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Callable[..., CentralAgent]]:
    started: list[CentralAgent] = []

    def make(central_url: str, **settings) -> CentralAgent:
        agent = CentralAgent(tmp_path / f"agent{len(started)}", central_url, **settings)
        started.append(agent)
        return agent

    try:
        yield make
    finally:
        for agent in started:
            agent.stop()


def kill_during_drain(agent, sandbox, delivered: Callable[[], int], *, kills: int, every: int, backlog: int) -> list[int]:
    """Central comes back, slowed a little (50 ms per POST) so that the kills land mid-drain even under
    load; the agent is SIGKILLed `kills` times, each after `every` more deliveries, and restarted.
    Returns `delivered()` at each kill, all of them before the drain ended."""
    sandbox.start()
    sandbox.fault("hang", hang_s=0.05, count=100_000, methods=["POST"])
    killed_at = []
    for _kill in range(kills):
        reached = delivered() + every
        wait_until(lambda: delivered() >= reached, 60, f"{reached} delivered at central", every=0.01)
        agent.kill()
        killed_at.append(delivered())
        agent.start()
    assert all(count < backlog for count in killed_at), f"kills came after the drain ended: {killed_at}"
    return killed_at
