"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.processes import free_port
from tests.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]

# The processes the tests start (agent, sandbox, CLIs, the kiosk window) import this checkout's packages
# whatever their working directory, not the checkout an editable install happens to point at.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


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
