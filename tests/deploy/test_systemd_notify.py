"""sd_notify over a real AF_UNIX datagram socket, as systemd provides it in $NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from edge_agent import systemd_notify
from tests.notify_socket import bind, received


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "notify"
    sock = bind(path, 5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_and_stopping_reach_systemd(notify_socket: socket.socket) -> None:
    assert systemd_notify.ready() and systemd_notify.stopping()
    assert received(notify_socket) == ["READY=1", "STOPPING=1"]


def test_without_notify_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd_notify.ready() is False


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd_notify.watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert systemd_notify.watchdog_interval_s() is None


def test_watchdog_pings_only_while_healthy(notify_socket: socket.socket) -> None:
    health = iter([True, True, False, True])
    probes = []

    async def healthy() -> bool:
        value = next(health, False)
        probes.append(value)
        if len(probes) == 4:
            raise asyncio.CancelledError
        return value

    async def run() -> None:
        with pytest.raises(asyncio.CancelledError):
            await systemd_notify.feed_watchdog(healthy, interval_s=0.01)

    asyncio.run(run())
    assert received(notify_socket) == ["WATCHDOG=1", "WATCHDOG=1"]  # none for the unhealthy probe


def test_a_hanging_or_failing_probe_withholds_the_ping(notify_socket: socket.socket) -> None:
    calls = []

    async def probe() -> bool:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(10)  # the store does not answer in time
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        raise asyncio.CancelledError

    async def run() -> None:
        with pytest.raises(asyncio.CancelledError):
            await systemd_notify.feed_watchdog(probe, interval_s=0.05)

    asyncio.run(run())
    assert received(notify_socket) == []


def test_the_real_agent_reports_ready_feeds_the_watchdog_and_says_stopping(notify_socket: socket.socket, tmp_path: Path) -> None:
    from tests.agent.launcher import start_agent

    agent = start_agent(tmp_path / "agent", env={"WATCHDOG_USEC": "1000000"})  # WatchdogSec=1s: ping every 0.5 s
    try:
        messages = []
        while messages.count("WATCHDOG=1") < 2:
            messages.append(notify_socket.recv(4096).decode())
        assert messages[0] == "READY=1"
    finally:
        assert agent.stop() == 0
    assert "STOPPING=1" in received(notify_socket)
