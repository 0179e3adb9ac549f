"""Structured JSON logs without PHI, Prometheus metrics, and the health check.

Log only identifiers that say nothing about a patient (check-in ids, tickets, kiosk ids, counts):
`log.info("checkin accepted", extra={"checkin_id": ..., "ticket": ...})`. Only keys in SAFE_FIELDS
are written; anything else passed in `extra` is dropped, so a careless call cannot leak a name.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

if TYPE_CHECKING:
    from .app import Agent

SAFE_FIELDS = frozenset({
    "checkin_id", "ticket", "kiosk_id", "outcome", "status", "error", "appointments", "day", "count", "listen",
    "tls", "fingerprint", "event", "action", "depth", "seconds", "site_id", "path", "method", "code", "attempt",
    "outbox_id", "event_type", "reason", "retry_in_s", "version", "service", "screen", "username", "role",
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


LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Histogram:
    def __init__(self, help: str, buckets: tuple[float, ...] = LATENCY_BUCKETS_S):
        self.help = help
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1
                break

    def render(self, name: str) -> list[str]:
        lines = [f"# HELP {name} {self.help}", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
        lines += [f'{name}_bucket{{le="+Inf"}} {self.total}', f"{name}_sum {self.sum:g}", f"{name}_count {self.total}"]
        return lines


class Metrics:
    """Counters and histograms kept in memory; gauges read at scrape time."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, tuple], float] = defaultdict(float)
        self.help: dict[str, str] = {}
        self.histograms: dict[str, Histogram] = {}

    def observe(self, name: str, help: str, value: float) -> None:
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = Histogram(help)
        histogram.observe(value)

    def inc(self, name: str, help: str, amount: float = 1.0, **labels: str) -> None:
        self.help.setdefault(name, help)
        self.counters[(name, tuple(sorted(labels.items())))] += amount

    def render(self, gauges: dict[str, tuple[str, float | None]]) -> str:
        lines = []
        by_name: dict[str, list] = defaultdict(list)
        for (name, labels), value in sorted(self.counters.items()):
            by_name[name].append((labels, value))
        for name, samples in by_name.items():
            lines += [f"# HELP {name} {self.help[name]}", f"# TYPE {name} counter"]
            for labels, value in samples:
                rendered = ",".join(f'{key}="{value_}"' for key, value_ in labels)
                lines.append(f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}")
        for name, histogram in sorted(self.histograms.items()):
            lines += histogram.render(name)
        for name, (help, value) in gauges.items():
            if value is None:
                continue
            lines += [f"# HELP {name} {help}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"


def _health(agent: "Agent") -> dict:
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
    }


router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    body = _health(request.app.state.agent)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


@router.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    agent: Agent = request.app.state.agent
    stats = agent.store.outbox_stats()
    waiting = await agent.waiting_count()
    gauges = {
        "checkin_outbox_pending": ("Outbox events waiting for delivery", stats.pending),
        "checkin_outbox_dead": ("Outbox events in the dead-letter list", stats.dead),
        "checkin_outbox_delivered": ("Outbox events delivered", stats.delivered),
        "checkin_outbox_oldest_pending_age_seconds": ("Age of the oldest pending event", stats.oldest_pending_age_s),
        "checkin_last_sync_success_timestamp_seconds": ("Last successful delivery", stats.last_success_at),
        "checkin_queue_waiting": ("Arrivals waiting today", waiting),
        "checkin_schedule_appointments": ("Appointments in today's schedule cache", len(agent.schedule.appointments)),
        "checkin_sse_subscribers": (
            "Open server-sent event streams", agent.events.staff.subscriber_count + agent.events.board.subscriber_count
        ),
        "checkin_central_reachable": (
            "1 when the last contact with the central system worked",
            None if agent.sync_status.central_reachable is None else float(agent.sync_status.central_reachable),
        ),
    }
    return PlainTextResponse(agent.metrics.render(gauges), media_type="text/plain; version=0.0.4")
