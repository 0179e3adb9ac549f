"""`edge-agent rotate-tls` with a real TLS agent and real kiosk clients (pinned httpx over the wire):
before the rotation, during the overlap (old certificate served, next one learned as a second pin and
persisted), after activation (the live agent serves the new certificate without a restart; kiosks drop
the old pin); a kiosk that never learned the new pin fails closed and `status` lists it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import pytest

from kiosk.agent_client import AgentClient, AgentUnreachable, PinStore, fetch_certificate
from lobby_core.contract import Heartbeat
from tests.agent.launcher import RunningAgent, start_agent

import hashlib


def served(agent: RunningAgent) -> str:
    return hashlib.sha256(fetch_certificate("127.0.0.1", agent.port)).hexdigest()


def kiosk(agent: RunningAgent, folder: Path, kiosk_id: str, token: str) -> AgentClient:
    return AgentClient(agent.base_url, token, agent.fingerprint, pins=PinStore(folder / "agent-pins.json", agent.fingerprint))


def beat(client: AgentClient, kiosk_id: str) -> None:
    client.heartbeat(Heartbeat(kiosk_id=kiosk_id))


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def beat_until(client: AgentClient, kiosk_id: str, check: Callable[[], bool], what: str) -> None:
    def one() -> bool:
        try:
            beat(client, kiosk_id)
        except AgentUnreachable:
            return False  # the connection of the old certificate is gone: the next one is pinned afresh
        return check()

    eventually(one, what)


@pytest.fixture
def agent(tmp_path: Path):
    running = start_agent(tmp_path / "site", agent={"tls": "on"})
    try:
        yield running
    finally:
        running.stop()


def test_overlap_then_activation_and_a_kiosk_left_behind_fails_closed(agent: RunningAgent, tmp_path: Path) -> None:
    old = agent.fingerprint
    second_token = agent.enroll("kiosk-2")
    first, second = kiosk(agent, tmp_path / "k1", "kiosk-1", agent.token), kiosk(agent, tmp_path / "k2", "kiosk-2", second_token)
    beat(first, "kiosk-1")
    beat(second, "kiosk-2")
    assert first.pins.accepted() == [old] and served(agent) == old

    done = agent.cli("rotate-tls")
    upcoming = done.stdout.split()[2].rstrip(":")
    assert len(upcoming) == 64 and upcoming != old
    beat_until(first, "kiosk-1", lambda: first.pins.accepted() == [old, upcoming], "kiosk-1 to learn the next pin")
    beat(first, "kiosk-1")  # which its next heartbeat tells the agent
    time.sleep(3)  # more than one watcher tick: kiosk-2 has not the new pin, so the agent does not switch
    assert served(agent) == old
    status = agent.cli("status").stdout
    assert f"tls next certificate: {upcoming} (pinned by 1/2 kiosks: kiosk-1)" in status

    restarted = kiosk(agent, tmp_path / "k1", "kiosk-1", agent.token)  # the kiosk restarts mid-overlap
    assert restarted.pins.accepted() == [old, upcoming]

    agent.cli("rotate-tls", "--activate")
    eventually(lambda: served(agent) == upcoming, "the live agent to serve the new certificate")
    beat_until(restarted, "kiosk-1", lambda: restarted.pins.accepted() == [upcoming], "kiosk-1 to drop the old pin")
    assert json.loads((tmp_path / "k1" / "agent-pins.json").read_text())["pins"] == [upcoming]

    with pytest.raises(AgentUnreachable):  # kiosk-2 never learned it: it trusts no unknown certificate
        beat(kiosk(agent, tmp_path / "k2", "kiosk-2", second_token), "kiosk-2")
    status = agent.cli("status").stdout
    assert f"tls certificate:      {upcoming}" in status
    assert "needs re-enrollment:  kiosk-2" in status and "kiosk-1," not in status


def test_the_agent_switches_by_itself_once_every_kiosk_has_the_new_pin(agent: RunningAgent, tmp_path: Path) -> None:
    client = kiosk(agent, tmp_path / "k1", "kiosk-1", agent.token)
    beat(client, "kiosk-1")
    upcoming = agent.cli("rotate-tls").stdout.split()[2].rstrip(":")
    beat_until(client, "kiosk-1", lambda: upcoming in client.pins.accepted(), "the next pin")
    beat(client, "kiosk-1")  # its heartbeat now lists the new pin
    eventually(lambda: served(agent) == upcoming, "the automatic switch")
    beat_until(client, "kiosk-1", lambda: client.pins.accepted() == [upcoming], "the old pin to go")
    assert "needs re-enrollment" not in agent.cli("status").stdout
