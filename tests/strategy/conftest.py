"""Fixtures: a FHIR server per parameter (sandbox modes and Medplum), and the sync tests' agent factory."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.sandbox import Sandbox
from tests.sync.conftest import agent_factory  # noqa: F401 - the real agent process

from .servers import SERVERS, start_server


@pytest.fixture(params=list(SERVERS))
def fhir_server(request, tmp_path: Path) -> Iterator[Sandbox]:
    server = start_server(request.param, tmp_path)
    try:
        yield server
    finally:
        server.stop()
