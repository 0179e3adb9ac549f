"""In-process event bus for server-sent events, with resume by Last-Event-ID.

Two channels live on `agent.events`:

- `staff`: queue changes with patient details (PHI). Serve it ONLY from authenticated staff routes.
- `board`: what the lobby board may show (tickets, "now calling"), never names. Public.

    event = agent.events.staff.publish("arrival", {"checkin_id": ..., "ticket": "A-014"})
    return sse_response(agent.events.board, request)   # in a route: streams, resumes, ends on shutdown

Event ids grow monotonically within a channel and start from the process start time in microseconds,
so ids of a new process are always above those of an old one. A client that comes back with a
Last-Event-ID still in the ring buffer gets exactly the events it missed, once; one whose id is
unknown (too old, or from before a restart) first gets a `reset` event: refetch the full state.
Publish only from the event loop's thread (route handlers, background tasks).

A Last-Event-ID that cannot be one of ours (not digits, or absurdly long) is treated as unknown: a reset.
A channel may be given a `Quota`; its streams beyond them are answered 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from typing import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from lobby_core.contract import Problem

from .json_types import JsonObject
from .quota import Quota, QuotaCount

RING_SIZE = 4096
SUBSCRIBER_BACKLOG = 1024
KEEPALIVE_S = 15.0
RESET = "reset"
MAX_EVENT_ID_DIGITS = 20  # ids are microseconds since 1970 plus a count: 16-17 digits for centuries
STREAM_RETRY_AFTER_S = 30

Snapshot = Callable[[], Awaitable[tuple[str, JsonObject]]]  # -> (event type, data) describing the current state


class Event:
    """One event, kept as its encoded SSE frame: a ring of thousands of events is then thousands of
    bytes objects, not of nested dicts for the garbage collector to walk."""

    __slots__ = ("id", "type", "frame")

    def __init__(self, id: int, type: str, data: JsonObject):
        self.id = id
        self.type = type
        payload = json.dumps(data, separators=(",", ":"), default=str)
        self.frame = f"id: {id}\nevent: {type}\ndata: {payload}\n\n".encode()

    @property
    def data(self) -> JsonObject:
        data: JsonObject = json.loads(self.frame.partition(b"\ndata: ")[2])
        return data

    def encode(self) -> bytes:
        return self.frame


def parse_event_id(text: str) -> int | None:
    """A Last-Event-ID as an id, or None when it cannot be one of ours (any such id gets a reset)."""
    text = text.strip()
    if not (0 < len(text) <= MAX_EVENT_ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    return int(text)


class Channel:
    """A named stream of events: publish, replay since an id, subscribe."""

    def __init__(self, name: str, ring_size: int = RING_SIZE, limits: Quota | None = None):
        self.name = name
        self.slots = QuotaCount(limits)
        self._ring: collections.deque[Event] = collections.deque(maxlen=ring_size)
        self._last_id = time.time_ns() // 1000
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._closed = False

    @property
    def last_id(self) -> int:
        return self._last_id

    def publish(self, type: str, data: JsonObject) -> Event:
        self._last_id += 1
        event = Event(self._last_id, type, data)
        self._ring.append(event)
        for queue in list(self._subscribers):
            if queue.qsize() >= SUBSCRIBER_BACKLOG:
                # A client this far behind is dropped; it reconnects and resumes from the ring.
                self._subscribers.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(event)
        return event

    def since(self, last_id: int) -> list[Event] | None:
        """Events after `last_id`, or None if that id is not known (the client must reset)."""
        if last_id == self._last_id:
            return []
        if not self._ring or last_id > self._last_id or last_id < self._ring[0].id - 1:
            return None
        return [event for event in self._ring if event.id > last_id]

    async def stream(
        self, last_event_id: str | None = None, snapshot: Snapshot | None = None
    ) -> AsyncIterator[Event | None]:
        """Missed events (or a reset), then live ones; yields None when idle for KEEPALIVE_S.

        A new client (no Last-Event-ID) first gets `snapshot()` as an event carrying the current id, if
        given; it is taken after subscribing, so a change during it arrives after it, never lost."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        # Registering and reading the ring happen with no await in between: nothing is missed or doubled.
        self._subscribers.add(queue)
        try:
            if last_event_id is None and snapshot is not None:
                current_id = self._last_id
                event_type, data = await snapshot()
                yield Event(current_id, event_type, data)
            if last_event_id is not None:
                known_id = parse_event_id(last_event_id)
                missed = None if known_id is None else self.since(known_id)
                if missed is None:
                    yield Event(self._last_id, RESET, {"channel": self.name})
                else:
                    for event in missed:
                        yield event
            if self._closed:
                return
            while True:
                try:
                    live = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield None
                    continue
                if live is None:
                    return
                yield live
        finally:
            self._subscribers.discard(queue)

    def close(self) -> None:
        """End every open stream (server shutdown); clients reconnect to the next process."""
        self._closed = True
        for queue in list(self._subscribers):
            queue.put_nowait(None)
        self._subscribers.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


class EventBus:
    def __init__(self, ring_size: int = RING_SIZE, board_limits: Quota | None = None):
        self.staff = Channel("staff", ring_size)
        self.board = Channel("board", ring_size, board_limits)  # public: capped, so it cannot starve the kiosk API

    def close(self) -> None:
        self.staff.close()
        self.board.close()


class EventStreamResponse(StreamingResponse):
    """A stream that holds one of its channel's slots while it is open: beyond the channel's limits
    the answer is 503 + Retry-After instead. The slot is given back however the stream ends."""

    def __init__(self, channel: Channel, frames: AsyncIterator[bytes]):
        super().__init__(frames, media_type="text/event-stream",
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})  # fmt: skip
        self.channel = channel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = scope["client"][0] if scope.get("client") else "-"
        if not self.channel.slots.take(source):
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
            problem = Problem(error="too_many_streams", message="Too many open event streams; try again shortly.")
            refusal = JSONResponse(problem.model_dump(), status_code=503,
                                   headers={"Retry-After": str(STREAM_RETRY_AFTER_S), "Cache-Control": "no-store"})  # fmt: skip
            await refusal(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.channel.slots.give_back(source)


def sse_response(channel: Channel, request: Request, snapshot: Snapshot | None = None) -> StreamingResponse:
    """A text/event-stream of `channel`, resuming after the request's Last-Event-ID header
    (a new client first gets `snapshot()`, if given: see `Channel.stream`)."""
    last_event_id = request.headers.get("last-event-id")

    async def frames() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        async for event in channel.stream(last_event_id, snapshot):
            yield b": keep-alive\n\n" if event is None else event.encode()

    return EventStreamResponse(channel, frames())
