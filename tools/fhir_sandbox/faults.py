"""Failure injection in front of the FHIR API: statuses, hangs, connection resets, and a hostile central
system's answers: a 200 transaction-response whose entries failed, that has no entries or too few, or
that trickles in byte by byte."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass, field
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .outcomes import operation_outcome

FHIR_JSON = "application/fhir+json"
TRANSPORT_KEY = "fhir_sandbox.transport"


@dataclass
class Fault:
    """What the next `count` matching requests get instead of a normal answer."""

    # "status" | "hang" | "reset" | "failed-entries" | "no-entries" | "fewer-entries" | "trickle"
    mode: str
    count: int = 1
    status: int = 500  # "status": the answer's status; "failed-entries": every entry's status
    retry_after: str | None = None
    diagnostics: str = "injected failure"
    hang_s: float = 30.0
    trickle_s: float = 10.0  # "trickle": how long the answer takes to arrive, one byte at a time
    methods: list[str] = field(default_factory=lambda: ["POST", "PUT", "PATCH", "GET", "DELETE"])
    path_prefix: str = ""  # only requests whose path starts with it (e.g. "/Appointment")
    after: int = 0  # matching requests let through before the fault starts


class FaultInjector:
    """ASGI middleware in front of the FHIR API (never in front of /_control)."""

    def __init__(self, app):
        self.app = app
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {}

    def take(self, method: str, path: str = "/") -> Fault | None:
        for fault in self.faults:
            if method in fault.methods and fault.count > 0 and path.startswith(fault.path_prefix):
                if fault.after > 0:
                    fault.after -= 1
                    continue
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
        fault = self.take(method, scope["path"])
        if fault is None:
            return await self.app(scope, receive, send)
        if fault.mode == "hang":
            return await self._hang(fault.hang_s, scope, receive, send)
        if fault.mode in ("failed-entries", "no-entries"):
            return await self._uncommitted_answer(fault, receive, send)
        if fault.mode == "fewer-entries":
            return await self._fewer_entries(scope, receive, send)
        if fault.mode == "trickle":
            return await self._trickle(fault.trickle_s, scope, receive, send)
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
        body = await _request_body(receive)
        if body is None:
            return
        await asyncio.sleep(seconds)
        await self.app(scope, _replay(body), send)

    async def _uncommitted_answer(self, fault: Fault, receive, send) -> None:
        """A 200 transaction-response for a transaction that was never applied: every entry failed with
        `fault.status` ("failed-entries"), or no entries at all ("no-entries")."""
        body = await _request_body(receive)
        if body is None:
            return
        entries = []
        if fault.mode == "failed-entries":
            try:
                requested = len(json.loads(body).get("entry", []))
            except (ValueError, AttributeError):
                requested = 1
            code = "transient" if fault.status >= 500 else "processing"
            entries = [
                {"response": {"status": f"{fault.status} {HTTPStatus(fault.status).phrase}",
                              "outcome": operation_outcome(code, fault.diagnostics)}}
                for _ in range(requested)
            ]  # fmt: skip
        answer = json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": entries}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", FHIR_JSON.encode())]})
        await send({"type": "http.response.body", "body": answer})

    async def _fewer_entries(self, scope, receive, send) -> None:
        """The transaction is applied, but its answer lacks the last entry."""
        start, body = await self._answer_of(scope, receive)
        try:
            answer = json.loads(body)
            answer["entry"] = answer.get("entry", [])[:-1]
            body = json.dumps(answer).encode()
        except (ValueError, AttributeError):
            pass
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _trickle(self, seconds: float, scope, receive, send) -> None:
        """The transaction is applied and its answer sent at once in headers, then one byte at a time over
        `seconds`: every read finishes well inside any per-read timeout, the whole answer does not."""
        start, body = await self._answer_of(scope, receive)
        transport = scope.get(TRANSPORT_KEY)
        await send(start)
        pause = seconds / max(1, len(body))
        for index in range(len(body)):
            if transport is not None and transport.is_closing():
                return  # the client gave up
            await send({"type": "http.response.body", "body": body[index : index + 1], "more_body": True})
            await asyncio.sleep(pause)
        await send({"type": "http.response.body", "body": b""})

    async def _answer_of(self, scope, receive) -> tuple[dict, bytes]:
        """What the FHIR API answers this request (it is processed, and commits), held back."""
        start: dict = {}
        chunks: list[bytes] = []

        async def hold(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, hold)
        return start, b"".join(chunks)


async def _request_body(receive) -> bytes | None:
    """The whole request body; None if the client disconnected first."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body, more = body + message.get("body", b""), message.get("more_body", False)
    return body


def _replay(body: bytes):
    """An ASGI `receive` that hands the app a body already read."""
    delivered = False

    async def receive():
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class TransportInScope(HttpToolsProtocol):
    """uvicorn's protocol, handing the connection's transport to the app so a fault can reset it."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[TRANSPORT_KEY] = self.transport  # type: ignore[literal-required]
