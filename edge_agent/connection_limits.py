"""The agent's HTTP connections: uvicorn's httptools protocol plus the deadlines and caps it lacks.

    uvicorn.Config(app, http=protocol_class(config.limits), timeout_keep_alive=config.limits.keep_alive_s, ...)

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but has no deadline for a request
head, so a client that trickles a header byte now and then (slowloris), or connects and says nothing,
holds a socket forever; and its `limit_concurrency` answers 503 to everyone, kiosks included, once
long-lived streams fill it. This protocol adds, per connection:

- the request head must arrive whole within `header_timeout_s` of its first byte (or of the connection
  opening): 408, closed;
- a head larger than `header_bytes`: 431, closed (httptools itself would buffer any size);
- a request body silent for `body_idle_timeout_s`: closed (the app sees the client gone);
- beyond `connections` open in all or `connections_per_source` from one address, a new connection is
  closed on arrival, so one address cannot use up the process's file descriptors.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from lobby_core.contract import Problem

from .config import LimitsSection
from .quota import Quota, QuotaCount


def problem_bytes(status: int, error: str, message: str) -> bytes:
    body = json.dumps(Problem(error=error, message=message).model_dump()).encode()
    head = b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    return STATUS_LINE[status] + head + body


class GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[LimitsSection]
    open_connections: ClassVar[QuotaCount]

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._source: str | None = None  # set once the connection is admitted (and counted)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._in_head = False
        self._head_bytes = 0

    # --- connection -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        source = self.client[0] if self.client else "-"
        if not self.open_connections.take(source):
            transport.abort()
            return
        self._source = source
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        self._cancel_body_idle()
        if self._source is not None:
            self.open_connections.give_back(self._source)
            self._source = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self._between_requests():
            self._arm_head_deadline()  # bytes (even bare CRLFs) before a request: its head is now due
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.header_bytes:
                self._answer_and_close(431, "header_too_large",
                                       f"The request head exceeds {self.limits.header_bytes} bytes.")  # fmt: skip

    def _between_requests(self) -> bool:
        return not self._in_head and self._body_timer is None and (self.cycle is None or self.cycle.response_complete)

    # --- parser callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_deadline()
        super().on_headers_complete()
        self._arm_body_idle()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm_body_idle()

    def on_message_complete(self) -> None:
        self._cancel_body_idle()
        super().on_message_complete()

    # --- deadlines --------------------------------------------------------------------------------

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self._answer_and_close(408, "request_timeout", "The request head did not arrive in time.")

    def _arm_body_idle(self) -> None:
        self._cancel_body_idle()
        self._body_timer = self.loop.call_later(self.limits.body_idle_timeout_s, self._body_stalled)

    def _cancel_body_idle(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_stalled(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _answer_and_close(self, status: int, error: str, message: str) -> None:
        """A Problem answer, then close; only when no other response is on the wire."""
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(problem_bytes(status, error, message))
        self.transport.close()


def protocol_class(limits: LimitsSection) -> type[HttpToolsProtocol]:
    """A protocol class for one server: `limits`, and one count of open connections for all of them."""
    return type("GuardedProtocol", (GuardedProtocol,), {"limits": limits, "open_connections": QuotaCount(Quota(limits.connections, limits.connections_per_source))})
