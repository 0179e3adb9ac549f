"""Kind "none": no central system. Everything waits in the outbox until one is configured."""

from __future__ import annotations

import datetime as dt

from lobby_core.appointments import ScheduledAppointment
from ..store import OutboxItem
from .base import Delivery, ScheduleUnavailable

HOLD_S = 3600.0


class NoCentral:
    kind = "none"

    async def deliver(self, item: OutboxItem) -> Delivery:
        return Delivery.retry("no central system configured", after=HOLD_S)

    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]:
        raise ScheduleUnavailable("no central system configured")

    async def ping(self) -> bool:
        return False

    async def aclose(self) -> None:
        return None
