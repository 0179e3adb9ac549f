"""Wakes a kiosk's support long poll (edge_agent/support_routes.py) the moment a command is queued for it.

One poll per kiosk counts: a new poll supersedes an older one (a kiosk that restarted leaves a poll behind
that nobody reads any more; it must not take the next command).
"""

from __future__ import annotations

import asyncio


class CommandSignals:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._polls: dict[str, int] = {}

    def event(self, kiosk_id: str) -> asyncio.Event:
        return self._events.setdefault(kiosk_id, asyncio.Event())

    def notify(self, kiosk_id: str) -> None:
        self.event(kiosk_id).set()

    def begin_poll(self, kiosk_id: str) -> int:
        self._polls[kiosk_id] = self._polls.get(kiosk_id, 0) + 1
        self.notify(kiosk_id)  # an older poll wakes up and sees it is superseded
        return self._polls[kiosk_id]

    def is_current(self, kiosk_id: str, poll: int) -> bool:
        return self._polls.get(kiosk_id) == poll
