"""Fixtures of the deploy tests (the helpers and the test-only shortcuts are in tools/deploy_rehearsal.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tools.deploy_rehearsal import Deployment, build_wheel, run_playbook, snapshot_sources


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory, sources: Path) -> Path:
    return build_wheel(sources, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory, sources: Path, wheel: Path) -> Iterator[Deployment]:
    """site.yml run twice over the two-site example inventory into temporary roots."""
    base = tmp_path_factory.mktemp("deploy")
    runs = []
    for _ in range(2):
        run = run_playbook(base, sources, wheel, "site.yml")
        assert run.returncode == 0, run.output[-6000:]
        runs.append(run)
    yield Deployment(base=base, sources=sources, wheel=wheel, runs=runs)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test that needs the deployment also waits for its two playbook runs (minutes on a busy
    machine), so those tests get a longer limit than the suite's default."""
    for item in items:
        if "deployment" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(1200))
