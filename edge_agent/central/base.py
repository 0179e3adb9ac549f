"""The connector protocol: how the sync worker talks to a central system, whatever it speaks."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Literal, Protocol

from lobby_core.appointments import ScheduledAppointment
from ..store import OutboxItem


@dataclass(frozen=True)
class Delivery:
    """What became of one delivery attempt.

    delivered: the central system has it (possibly from an earlier attempt: replays are no-ops).
    retry: a transient failure; try again, not before `after` seconds if the server said so.
    rejected: the central system refused it for good; `outcome` is its OperationOutcome as text.
    """

    outcome: Literal["delivered", "retry", "rejected"]
    reason: str = ""  # status code or error class, never a body with patient data
    after: float | None = None
    server_outcome: str = ""

    @classmethod
    def delivered(cls) -> "Delivery":
        return cls("delivered")

    @classmethod
    def retry(cls, reason: str, after: float | None = None) -> "Delivery":
        return cls("retry", reason, after)

    @classmethod
    def rejected(cls, reason: str, server_outcome: str) -> "Delivery":
        return cls("rejected", reason, None, server_outcome)


def local_outcome(diagnostics: str) -> str:
    """An OperationOutcome of our own, for an event the agent itself cannot turn into a valid message."""
    return json.dumps(
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid", "diagnostics": diagnostics}]}
    )


class ScheduleUnavailable(Exception):
    """The central system cannot give today's schedule now (down, or this connector has none)."""


class Connector(Protocol):
    kind: str

    async def deliver(self, item: OutboxItem) -> Delivery: ...

    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]: ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...
