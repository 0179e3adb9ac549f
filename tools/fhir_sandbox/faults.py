"""Failure injection in front of the FHIR API: statuses, hangs, connection resets."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass, field

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .outcomes import operation_outcome

FHIR_JSON = "application/fhir+json"
TRANSPORT_KEY = "fhir_sandbox.transport"


@dataclass
class Fault:
    """What the next `count` matching requests get instead of a normal answer."""

    mode: str  # "status" | "hang" | "reset"
    count: int = 1
    status: int = 500
    retry_after: str | None = None
    diagnostics: str = "injected failure"
    hang_s: float = 30.0
    methods: list[str] = field(default_factory=lambda: ["POST", "PUT", "PATCH", "GET", "DELETE"])


class FaultInjector:
    """ASGI middleware in front of the FHIR API (never in front of /_control)."""

    def __init__(self, app):
        self.app = app
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {}

    def take(self, method: str) -> Fault | None:
        for fault in self.faults:
            if method in fault.methods and fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_control"):
            return await self.app(scope, receive, send)
        method = scope["method"]
        self.requests[method] = self.requests.get(method, 0) + 1
        fault = self.take(method)
        if fault is None:
            return await self.app(scope, receive, send)
        if fault.mode == "hang":
            return await self._hang(fault.hang_s, scope, receive, send)
        if fault.mode == "reset":
            transport = scope.get(TRANSPORT_KEY)
            sock = transport.get_extra_info("socket") if transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if transport is not None:
                transport.abort()
            return
        body = json.dumps(operation_outcome("transient" if fault.status >= 500 else "invalid", fault.diagnostics))
        headers = [(b"content-type", FHIR_JSON.encode())]
        if fault.retry_after is not None:
            headers.append((b"retry-after", fault.retry_after.encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})


    async def _hang(self, seconds: float, scope, receive, send) -> None:
        """Take the whole request, answer nothing for `seconds`, then process it anyway: the client has
        long given up and will send it again, while this one still commits."""
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body, more = body + message.get("body", b""), message.get("more_body", False)
        await asyncio.sleep(seconds)
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class TransportInScope(HttpToolsProtocol):
    """uvicorn's protocol, handing the connection's transport to the app so a fault can reset it."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[TRANSPORT_KEY] = self.transport  # type: ignore[literal-required]
