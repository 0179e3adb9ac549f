"""Request-body limits, enforced before any route, dependency or authentication runs.

    install(app, config)     # in create_app: every route gets config.limits.body_bytes, check-ins 8 MB

A request whose Content-Length is over its route's limit is answered 413 (a Problem body) at once,
without reading a byte of it. A body without a length (chunked) is counted as the app reads it; past
the limit, reading raises `BodyTooLarge`, which the app's handlers turn into the same 413. Either way
the connection is closed after the answer, so the rest of an oversized body is never read. A response
sent before its request body was read whole also closes the connection, for the same reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lobby_core.contract import Problem

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .config import SiteConfig

CODE = "body_too_large"


def _size(limit: int) -> str:
    return f"{limit // 1_000_000} MB" if limit >= 1_000_000 else f"{limit // 1024} KB"


def too_large_message(limit: int) -> str:
    return f"The request body exceeds {_size(limit)}."


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit (an HTTPException, so FastAPI's
    body parsing passes it on instead of calling it a malformed body)."""

    def __init__(self, limit: int):
        super().__init__(413, too_large_message(limit), headers={"Connection": "close"})


class BodySizeLimit:
    """ASGI middleware: `default_bytes` for every request body, `route_bytes[path]` where more is needed."""

    def __init__(self, app: ASGIApp, default_bytes: int, route_bytes: dict[str, int] | None = None):
        self.app = app
        self.default_bytes = default_bytes
        self.route_bytes = route_bytes or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.route_bytes.get(scope["path"], self.default_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        body_done = declared == 0 or (declared is None and not _has_body(scope))

        async def counted_receive() -> Message:
            nonlocal received, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                body_done = not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_done:
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted_receive, closing_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # the HTTP parser already refused bad ones
    return None


def _has_body(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(Problem(error=CODE, message=too_large_message(limit)).model_dump()).encode()
    await send({
        "type": "http.response.start", "status": 413,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def install(app: "FastAPI", config: "SiteConfig") -> None:
    from .kiosk_api import CHECKINS_PATH, MAX_CHECKIN_BYTES

    app.add_middleware(
        BodySizeLimit, default_bytes=config.limits.body_bytes, route_bytes={CHECKINS_PATH: MAX_CHECKIN_BYTES}
    )
