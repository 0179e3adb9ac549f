"""Fixtures for the device tests: an event recorder, simulators, and a session-wide pcscd."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from kiosk.devices.base import DeviceEvent, DeviceState, StatusChanged
from kiosk.simulators.pcscd import Pcscd

WAIT_S = 10.0
# Tests hold their virtual cards in vpcd's second slot, so a `kiosk run --simulate` (slot 0) running on
# the same machine does not swap cards under them.
CARD_SLOT = 1


class EventLog:
    """Collects driver events (from driver threads) and waits, bounded, for one that matches."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def mark(self) -> int:
        with self._changed:
            return len(self.events)

    def wait_for(self, predicate: Callable[[DeviceEvent], bool], since: int = 0, timeout: float = WAIT_S) -> DeviceEvent:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events[since:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching event within {timeout} s; got {self.events[since:]!r}")
                self._changed.wait(remaining)

    def of_type(self, kind: type, since: int = 0) -> list:
        with self._changed:
            return [event for event in self.events[since:] if isinstance(event, kind)]

    def wait_state(self, state: DeviceState, since: int = 0, timeout: float = WAIT_S, reason: str | None = None) -> StatusChanged:
        return self.wait_for(
            lambda e: isinstance(e, StatusChanged)
            and e.status.state == state
            and (reason is None or e.status.reason == reason),
            since,
            timeout,
        )


@pytest.fixture
def events() -> EventLog:
    return EventLog()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def pcscd():
    """pcscd with the vsmartcard virtual reader, started for the session (or reused if already running)."""
    if not Pcscd.available():
        pytest.skip("pcscd is not installed (scripts/setup.sh installs it)")
    daemon = Pcscd(timeout_s=75)  # outlasts a TIME_WAIT on the vpcd port
    try:
        daemon.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield daemon
    daemon.stop()
