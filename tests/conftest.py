"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import pytest

from tests.processes import free_port


@pytest.fixture
def port() -> int:
    return free_port()
