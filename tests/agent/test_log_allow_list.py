"""The log allow-list itself (edge_agent/observability.py): a careless `extra` cannot put PHI in a log line."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Iterator

import pytest

from edge_agent.observability import SAFE_FIELDS, JsonFormatter

PATIENT = {"family": "García López", "given": "María José", "birth_date": "1956-03-14",
           "member_id": "XG12345678", "street": "12 Elm St"}  # fmt: skip
PHI_TEXT = ("García", "María", "1956-03-14", "XG12345678", "Elm St")


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A real logger writing through the agent's formatter into a buffer (not propagated to pytest's)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger(f"tests.log_allow_list.{uuid.uuid4().hex}")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        yield log, stream
    finally:
        log.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_phi_passed_in_extra_is_dropped_and_allowed_keys_are_kept(logger) -> None:
    log, stream = logger
    log.info("checkin accepted", extra={**PATIENT, "patient": PATIENT, "checkin_id": "c-1", "ticket": "A-001"})
    [entry] = lines(stream)
    assert set(entry) == {"ts", "level", "logger", "msg", "checkin_id", "ticket"}
    assert (entry["level"], entry["msg"], entry["checkin_id"], entry["ticket"]) == ("info", "checkin accepted", "c-1", "A-001")
    assert not any(text in stream.getvalue() for text in PHI_TEXT)


def test_every_allowed_key_passes_and_nothing_else(logger) -> None:
    log, stream = logger
    log.warning("everything", extra={**{key: f"v-{key}" for key in SAFE_FIELDS}, "dob": PATIENT["birth_date"]})
    [entry] = lines(stream)
    assert {key: entry[key] for key in SAFE_FIELDS} == {key: f"v-{key}" for key in SAFE_FIELDS}
    assert set(entry) - SAFE_FIELDS == {"ts", "level", "logger", "msg"}


def test_an_exception_is_logged_by_its_type_only(logger) -> None:
    log, stream = logger
    try:
        raise ValueError(f"no appointment for {PATIENT['family']}, born {PATIENT['birth_date']}")
    except ValueError:
        log.exception("lookup failed", extra={"kiosk_id": "kiosk-1"})
    [entry] = lines(stream)
    assert entry["exception"] == "ValueError" and entry["kiosk_id"] == "kiosk-1"
    assert not any(text in stream.getvalue() for text in PHI_TEXT)
    assert "Traceback" not in stream.getvalue()
