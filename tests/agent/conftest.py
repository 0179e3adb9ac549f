"""Fixtures of the agent tests. The launcher itself is tests/agent/launcher.py (importable by other areas)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from .launcher import RunningAgent, start_agent


@pytest.fixture
def launch_agent(tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    """`launch_agent(**overrides)` starts an agent in this test's tmp_path; all are stopped afterwards."""
    started: list[RunningAgent] = []

    def launch(**overrides) -> RunningAgent:
        folder = tmp_path / f"agent{len(started)}"
        folder.mkdir()
        agent = start_agent(folder, **overrides)
        started.append(agent)
        return agent

    yield launch
    for agent in started:
        agent.stop()


@pytest.fixture(scope="module")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    """One agent for a whole test module (tests that do not disturb each other)."""
    agent = start_agent(tmp_path_factory.mktemp("shared-agent"))
    yield agent
    agent.stop()
