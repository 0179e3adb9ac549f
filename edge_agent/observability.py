"""Structured JSON logs without PHI, the health check (`/healthz`) and the Prometheus scrape (`/metrics`,
its registry in edge_agent/metrics.py).

Log only identifiers that say nothing about a patient (check-in ids, tickets, kiosk ids, counts):
`log.info("checkin accepted", extra={"checkin_id": ..., "ticket": ...})`. Only keys in SAFE_FIELDS
are written; anything else passed in `extra` is dropped, so a careless call cannot leak a name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .central.credentials import auth_health
from .config import SiteConfig
from .dependencies import (
    CentralDep, ConfigDep, MetricsDep, ScheduleDep, StoreDep, SupervisorDep, SyncDep, WriteProbeDep,
)  # fmt: skip
from .metrics import CONTENT_TYPE, require_scrape_token
from .store import OutboxStats
from .sync import SyncWorker

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


def central_state(config: SiteConfig, sync: SyncWorker) -> str:
    if config.central.kind == "none":
        return "none"
    reachable = sync.health.central_reachable
    return "unknown" if reachable is None else "reachable" if reachable else "unreachable"


router = APIRouter()


@router.get("/healthz")
async def healthz(
    store: StoreDep, schedule: ScheduleDep, sync: SyncDep, config: ConfigDep, central: CentralDep,
    supervisor: SupervisorDep, probe: WriteProbeDep,
) -> JSONResponse:  # fmt: skip
    """200 `ok` only when the store reads and writes (the write probe), the schedule is today's, and
    no background task is failing or stale (edge_agent/supervision.py); else 503 with `problems`."""
    stats: OutboxStats | None
    try:
        stats = await asyncio.to_thread(store.outbox_stats)
    except Exception:  # noqa: BLE001 - reported, not raised
        stats = None
    store_state = "ok" if stats is not None else "failing"
    writes = "unknown" if probe is None else "ok" if probe.healthy else "failing"
    problems = list(supervisor.problems()) if supervisor is not None else []
    if writes == "failing":
        problems.append(f"store-write:{probe.error or 'stale'}" if probe is not None else "store-write")
    if schedule.day != schedule.today():  # no refresh since midnight: every lookup would answer "none"
        problems.append("schedule:not-today")
    status = "ok" if store_state == "ok" and not problems else "failing"
    now = time.time()
    body = {
        "status": status,
        "store": store_state,
        "store_write": writes,
        "write_probe_at": probe.last_ok_at if probe is not None else None,
        "problems": problems,  # task names and fixed codes only
        "schedule_refresh_age_s": round(now - schedule.last_refresh_at, 1) if schedule.last_refresh_at else None,
        "purge_age_s": round(now - stats.purged_at, 1) if stats and stats.purged_at is not None else None,
        "central": central_state(config, sync),
        "outbox_depth": stats.pending if stats else None,
        "oldest_pending_age_s": round(stats.oldest_pending_age_s, 1) if stats and stats.oldest_pending_age_s is not None else None,
        "dead_letters": stats.dead if stats else None,
        "last_sync_success_at": stats.last_success_at if stats else None,
        "schedule_appointments": len(schedule.appointments),
        "schedule_refreshed_at": schedule.last_refresh_at,
        "site_id": config.site.id,
        "central_auth": auth_health(central),
    }
    return JSONResponse(body, status_code=200 if status == "ok" else 503)


@router.get("/metrics")
async def prometheus_metrics(request: Request, config: ConfigDep, metrics: MetricsDep) -> Response:
    require_scrape_token(request, config)
    return Response(await metrics.exposition(), media_type=CONTENT_TYPE)
