"""Error answers: every failure is a `Problem` body (stable code, a sentence, the offending field).

Raise `ProblemError(status, "code", "Sentence.", field=..., headers=...)` from any route;
`install(app)` turns it, FastAPI's validation errors and HTTP errors into Problem JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lobby_core.contract import Problem

log = logging.getLogger(__name__)


class ProblemError(Exception):
    def __init__(self, status: int, error: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None):  # fmt: skip
        super().__init__(message)
        self.status = status
        self.problem = Problem(error=error, message=message, field=field)
        self.headers = headers or {}


def problem_response(status: int, problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem.model_dump(), status_code=status, headers=headers)


def invalid_input(errors: Sequence[Mapping[str, Any]]) -> ProblemError:
    """A 422 naming the first offending field, from pydantic's error list."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    if first.get("type") == "json_invalid":
        return ProblemError(422, "invalid_json", "The request body is not valid JSON.")
    field = ".".join(location) or None
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return ProblemError(422, "invalid_field", f"{field or 'body'}: {message}", field=field)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.problem, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = invalid_input(list(exc.errors()))
        return problem_response(problem.status, problem.problem)

    @app.exception_handler(ValidationError)
    async def _validation(_request: Request, exc: ValidationError) -> JSONResponse:
        problem = invalid_input(exc.errors())
        return problem_response(problem.status, problem.problem)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The type only: an exception's message may quote patient data.
        log.error("unexpected error", extra={"error": type(exc).__name__, "path": request.url.path})
        problem = Problem(error="internal_error", message="Something went wrong on the agent; nothing was stored.")
        return problem_response(500, problem)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "body_too_large"}
        problem = Problem(error=code.get(exc.status_code, "http_error"), message=str(exc.detail))
        return problem_response(exc.status_code, problem, getattr(exc, "headers", None))
