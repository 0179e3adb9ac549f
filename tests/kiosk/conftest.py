"""Kiosk test fixtures: a real agent process (tests/agent/launcher.py) that can be stopped and restarted."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.agent.launcher import EDGE_AGENT, REPO, RunningAgent, start_agent
from tests.desk.a11y_results import pytest_configure, pytest_runtest_makereport, pytest_sessionfinish  # noqa: F401


def restart_agent(agent: RunningAgent, timeout_s: float = 60.0) -> RunningAgent:
    """The same agent (same site file, data and port) started again after `agent.stop()`."""
    process = subprocess.Popen(
        [*EDGE_AGENT, "serve", "--config", str(agent.config_path)],
        stdout=subprocess.DEVNULL, stderr=agent.log_path.open("ab"), cwd=REPO, start_new_session=True,
    )  # fmt: skip
    restarted = dataclasses.replace(agent, process=process)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5) as client:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if client.get(f"{agent.base_url}/healthz").status_code == 200:
                    return restarted
            except httpx.TransportError:
                time.sleep(0.1)
    restarted.stop()
    raise RuntimeError(f"agent did not come back:\n{agent.log_text()[-2000:]}")


class AgentHandle:
    """The current agent process of a test, whatever restarts it went through; stopped at the end."""

    def __init__(self, folder: Path):
        self.current = start_agent(folder)

    def stop(self) -> None:
        self.current.stop()

    def restart(self) -> RunningAgent:
        self.current = restart_agent(self.current)
        return self.current


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentHandle]:
    folder = tmp_path / "agent"
    folder.mkdir()
    handle = AgentHandle(folder)
    try:
        yield handle
    finally:
        handle.stop()
