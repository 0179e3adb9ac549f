"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Iterator

import pytest
from xdist.scheduler import LoadScopeScheduling

from tests.processes import free_port
from tests.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]

# The processes the tests start (agent, sandbox, CLIs, the kiosk window) import this checkout's packages
# whatever their working directory, not the checkout an editable install happens to point at.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


def _sigpipe_ignored() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGPIPE - 1)))
    return True


@pytest.fixture(autouse=True)
def sigpipe_stays_ignored() -> Iterator[None]:
    """Python ignores SIGPIPE; a C library that resets it (SANE's reader thread did) makes the next write
    to a closed socket kill the whole test process, tests later. Name the test that did it instead."""
    yield
    if not _sigpipe_ignored():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        pytest.fail("this test left SIGPIPE at its default action (a write to a closed socket would kill pytest)")


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """The central FHIR server of the tests: tools/fhir_sandbox as a real uvicorn process."""
    server = Sandbox(tmp_path / "central.sqlite", tmp_path / "sandbox.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()



# `scripts/test.sh` runs two pytest-xdist workers. A file's tests stay on one worker, so its module-scoped
# fixtures start once; an area whose tests share one machine-wide resource or session fixture runs on one
# worker: devices (pcscd and vpcd's fixed ports), deploy (one playbook rehearsal).
SERIAL_AREAS = {"devices", "deploy"}


class AreaScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        area = path.split("/")[1] if path.count("/") >= 2 else ""
        return area if area in SERIAL_AREAS else path


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> AreaScheduling:
    return AreaScheduling(config, log)
