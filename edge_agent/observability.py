"""Structured JSON logs without PHI, the health check, and the /metrics route (edge_agent/metrics.py).

Log only identifiers that say nothing about a patient (check-in ids, tickets, kiosk ids, counts):
`log.info("checkin accepted", extra={"checkin_id": ..., "ticket": ...})`. Only keys in SAFE_FIELDS
are written; anything else passed in `extra` is dropped, so a careless call cannot leak a name.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .metrics import CONTENT_TYPE, require_scrape_token

if TYPE_CHECKING:
    from .app import Agent

SAFE_FIELDS = frozenset({
    "checkin_id", "ticket", "kiosk_id", "outcome", "status", "error", "appointments", "day", "count", "listen",
    "tls", "fingerprint", "event", "action", "depth", "seconds", "site_id", "path", "method", "code", "attempt",
    "outbox_id", "event_type", "reason", "retry_in_s", "version", "service", "screen", "username", "role",
    "control_number",
})  # fmt: skip


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in SAFE_FIELDS.intersection(record.__dict__):
            entry[key] = record.__dict__[key]
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__  # the type only: messages may quote data
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # request lines are not needed; PHI never is


def _health(agent: "Agent") -> dict:
    from .central.credentials import auth_health

    try:
        stats = agent.store.outbox_stats()
        store_ok = True
    except Exception:  # noqa: BLE001 - reported, not raised
        stats, store_ok = None, False
    sync = agent.sync_status
    central = "none" if agent.config.central.kind == "none" else (
        "unknown" if sync.central_reachable is None else "reachable" if sync.central_reachable else "unreachable"
    )  # fmt: skip
    return {
        "status": "ok" if store_ok else "failing",
        "store": "ok" if store_ok else "failing",
        "central": central,
        "outbox_depth": stats.pending if stats else None,
        "oldest_pending_age_s": round(stats.oldest_pending_age_s, 1) if stats and stats.oldest_pending_age_s is not None else None,
        "dead_letters": stats.dead if stats else None,
        "last_sync_success_at": stats.last_success_at if stats else None,
        "schedule_appointments": len(agent.schedule.appointments),
        "schedule_refreshed_at": agent.schedule.last_refresh_at,
        "site_id": agent.config.site.id,
        "central_auth": auth_health(agent.central),
    }


router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    body = _health(request.app.state.agent)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    agent: Agent = request.app.state.agent
    require_scrape_token(request, agent.config)
    return Response(await agent.metrics.exposition(), media_type=CONTENT_TYPE)
