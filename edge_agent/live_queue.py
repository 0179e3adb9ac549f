"""The live queue: what follows a committed queue change, and the lobby board's current state.

    live_queue.publish_arrival(entry)       # a check-in committed: the desk sees it, the board updates, sync starts
    live_queue.publish_transition(change)   # call / room / complete / no-show / undo committed
    state = await live_queue.board()        # BoardState, rebuilt only after a change or on a new day

Board events are coalesced: one `board` event (the whole BoardState) per burst of changes, at most
every BOARD_COALESCE_S; `run()` is the background task that publishes them.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from lobby_core.contract import BoardState

from . import arrivals
from .config import SiteSection
from .events import EventBus
from .store import Store

BOARD_COALESCE_S = 0.2


class LiveQueue:
    def __init__(self, store: Store, events: EventBus, site: SiteSection, notify_sync: Callable[[], None] | None):
        self.store = store
        self.events = events
        self.site = site
        self.notify_sync = notify_sync  # None without a central system
        self._board_dirty = asyncio.Event()
        self._board: BoardState | None = None
        self._board_day = ""

    def today(self) -> str:
        return arrivals.site_day(self.site.timezone)

    def publish_arrival(self, entry: arrivals.QueueEntry) -> None:
        self.events.staff.publish("arrival", entry.as_dict())
        self.board_changed()
        if self.notify_sync is not None:
            self.notify_sync()

    def publish_transition(self, change: arrivals.Transition | None) -> None:
        if change is None:
            return
        self.events.staff.publish("transition", {
            "checkin_id": change.checkin_id, "ticket": change.ticket, "action": change.action,
            "from_status": change.from_status, "to_status": change.to_status, "room": change.room, "at": change.at,
        })  # fmt: skip
        self.board_changed()

    def board_changed(self) -> None:
        self._board_dirty.set()

    async def board(self) -> BoardState:
        day = self.today()
        if self._board is None or self._board_day != day or self._board_dirty.is_set():
            await self._rebuild_board(day)
        assert self._board is not None
        return self._board

    async def _rebuild_board(self, day: str) -> None:
        name, languages = self.site.name, list(self.site.languages)
        self._board = await self.store.read(lambda c: arrivals.board_state(c, day, name, languages))
        self._board_day = day

    async def run(self) -> None:
        """Publish the board after each burst of changes (a background task for the agent's lifetime)."""
        while True:
            await self._board_dirty.wait()
            await asyncio.sleep(BOARD_COALESCE_S)
            self._board_dirty.clear()
            await self._rebuild_board(self.today())
            assert self._board is not None
            self.events.board.publish("board", self._board.model_dump(mode="json"))

    async def waiting_count(self) -> int:
        day = self.today()
        return await self.store.read(lambda c: arrivals.waiting_count(c, day))
