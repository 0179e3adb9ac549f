"""The agent's Prometheus metrics: counters the routes update, and gauges read at scrape time.

    metrics = AgentMetrics(config, store, schedule, events, sync, central=connector, loop_lag=monitor)
    metrics.lookups.labels(outcome="matched").inc()
    body = await metrics.exposition()             # /metrics: collection (store reads too) in a worker thread

One CollectorRegistry per app instance, built by the composition root (edge_agent/app.py) from the
collaborators it reads; with the loop-lag debug monitor on (edge_agent/loop_lag.py) its largest stall
is exposed too.

Label values never hold patient data: kiosk ids, device names and kinds (set by the clinic), and a
device's reason mapped onto the fixed set REASONS. Prometheus adds the site (`site`, from the scrape
target) to every series; deploy/monitoring/ holds the rules and alerts that use these names.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hmac
import re
import shutil
import sqlite3
import time
import zoneinfo
from importlib import metadata
from typing import Iterable, Iterator

import anyio.to_thread
import httpx
from cryptography import x509
from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import arrivals, tls
from .central.base import Connector
from .config import WEEKDAYS, SiteConfig, parse_opening_ranges
from .desk.devices import KioskStatus, kiosk_statuses
from .events import EventBus
from .loop_lag import METRIC as LOOP_LAG_METRIC, LoopLagMonitor
from .problems import ProblemError
from .schedule import ScheduleCache
from .store import Store
from .sync import SyncWorker

# *_created series double every counter and nothing here reads them. prometheus_client ships py.typed
# but leaves this one function unannotated.
disable_created_metrics()  # type: ignore[no-untyped-call]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ARRIVAL_STATUSES = ("waiting", "called", "roomed", "done", "no_show")
USABLE_STATES = frozenset({"online", "degraded"})
PURGED_AT_META = "retention_purged_at"  # written by edge_agent.retention.purge

# A device's free-text reason -> one of REASONS (first match wins). Free text never becomes a label.
REASON_PATTERNS = (
    ("paper_low", r"paper (low|near)"),
    ("paper_out", r"paper (out|end)|no paper|out of paper"),
    ("cover_open", r"cover open"),
    ("head_open", r"head open"),
    ("ribbon_out", r"ribbon"),
    ("paused", r"paused"),
    ("misconfigured", r"misconfigur|not configured|invalid|config"),
    ("disconnected", r"offline|disconnect|not connected|no card reader|not found|no such|unplugged|refused"),
    ("status_unknown", r"unknown|not opened"),
    ("device_error", r"error|fault|jam"),
)
REASONS = ("none", *(name for name, _ in REASON_PATTERNS), "other")
SAFE_LABEL = re.compile(r"[^A-Za-z0-9 _.-]+")


def reason_label(text: str) -> str:
    """Map a device's free-text reason onto REASONS."""
    lowered = text.strip().lower()
    if not lowered:
        return "none"
    return next((name for name, pattern in REASON_PATTERNS if re.search(pattern, lowered)), "other")


def safe_label(text: str, limit: int = 40) -> str:
    """A kiosk-supplied name (device name, kind) reduced to a short plain label."""
    return SAFE_LABEL.sub("", text).strip()[:limit] or "unnamed"


def site_open(config: SiteConfig, now: dt.datetime | None = None) -> bool:
    """Inside `[site] opening_hours` now (site time)? No opening hours configured: always open."""
    hours = config.site.opening_hours
    if not hours:
        return True
    local = (now or dt.datetime.now(dt.UTC)).astimezone(zoneinfo.ZoneInfo(config.site.timezone))
    ranges = hours.get(WEEKDAYS[local.weekday()])
    minute = local.hour * 60 + local.minute
    return ranges is not None and any(start <= minute < end for start, end in parse_opening_ranges(ranges))


def require_scrape_token(request: Request, config: SiteConfig) -> None:
    """With `[agent] metrics_token` set, /metrics needs `Authorization: Bearer <token>`."""
    expected = config.agent.metrics_token
    if not expected:
        return
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        raise ProblemError(401, "unauthorized", "Send the scrape token as a bearer token.",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})  # fmt: skip


class CentralClock:
    """The clock offset to the central system, from the HTTP Date header of its last successful answer."""

    def __init__(self) -> None:
        self.offset_s: float | None = None

    async def on_response(self, response: httpx.Response) -> None:
        received = time.time()
        date = response.headers.get("date")
        if not response.is_success or not date:
            return
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        self.offset_s = server + 0.5 - received  # Date has whole seconds: centre it in its second

    def watch(self, client: httpx.AsyncClient) -> None:
        client.event_hooks["response"].append(self.on_response)


def _gauge(name: str, help: str, value: float | None = None, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    return family


class AgentStateCollector(Collector):
    """Every gauge, read from the agent's collaborators, its store and its files when Prometheus scrapes
    (in a worker thread: see AgentMetrics.exposition)."""

    def __init__(
        self, config: SiteConfig, store: Store, schedule: ScheduleCache, events: EventBus, sync: SyncWorker,
        clock: CentralClock, loop_lag: LoopLagMonitor | None = None,
    ):  # fmt: skip
        self.config = config
        self.store = store
        self.schedule = schedule
        self.events = events
        self.sync = sync
        self.clock = clock
        self.loop_lag = loop_lag
        self.version = _package_version()
        self.started_at = time.time()

    def collect(self) -> Iterator[Metric]:
        config, schedule, events, now = self.config, self.schedule, self.events, time.time()
        info = GaugeMetricFamily("lobby_agent_info", "The agent: site name and version", labels=["site_name", "version"])
        info.add_metric([config.site.name, self.version], 1)
        yield info
        yield _gauge("lobby_site_open", "1 inside the site's opening hours ([site] opening_hours)", float(site_open(config)))
        yield from self._store_gauges(now)
        yield from self._sync_gauges(now)
        yield from self._host_gauges()
        yield _gauge("checkin_schedule_appointments", "Appointments in today's schedule cache", len(schedule.appointments))
        refreshed = schedule.last_refresh_at or self.started_at  # never refreshed: as old as the process
        yield _gauge("lobby_schedule_age_seconds", "Time since the schedule was last refreshed", max(0.0, now - refreshed))
        yield _gauge("lobby_schedule_refresh_interval_seconds", "How often the schedule is refreshed", config.schedule.refresh_s)
        yield _gauge("checkin_sse_subscribers", "Open server-sent event streams",
                     events.staff.subscriber_count + events.board.subscriber_count)  # fmt: skip
        if self.loop_lag is not None:
            yield _gauge(LOOP_LAG_METRIC, "Longest event-loop stall seen (debug monitor)", self.loop_lag.max_lag_s)

    def _store_gauges(self, now: float) -> Iterator[Metric]:
        store = self.store
        try:
            stats = store.outbox_stats(now)
            day = arrivals.site_day(self.config.site.timezone)
            kiosks, today, waiting, purged_at = store.read_sync(lambda conn: (
                kiosk_statuses(conn, dt.datetime.fromtimestamp(now, dt.UTC)), _arrivals_by_status(conn, day),
                arrivals.waiting_count(conn, day),
                conn.execute("SELECT value FROM meta WHERE key = ?", (PURGED_AT_META,)).fetchone(),
            ))  # fmt: skip
        except sqlite3.Error:
            yield _gauge("lobby_store_read_ok", "1 when this scrape's reads of the store worked", 0)
            return
        yield _gauge("lobby_store_read_ok", "1 when this scrape's reads of the store worked", 1)
        yield _gauge("checkin_outbox_pending", "Outbox events waiting for delivery", stats.pending)
        yield _gauge("checkin_outbox_dead", "Outbox events in the dead-letter list", stats.dead)
        yield _gauge("checkin_outbox_delivered", "Outbox events delivered", stats.delivered)
        yield _gauge("checkin_outbox_oldest_pending_age_seconds", "Age of the oldest pending event",
                     stats.oldest_pending_age_s or 0.0)  # fmt: skip
        if stats.last_success_at is not None:
            yield _gauge("checkin_last_sync_success_timestamp_seconds", "Last successful delivery", stats.last_success_at)
        yield _gauge("checkin_queue_waiting", "Arrivals waiting today", waiting)
        by_status = _gauge("lobby_arrivals_today", "Today's check-ins by status", labels=["status"])
        for status in ARRIVAL_STATUSES:
            by_status.add_metric([status], today.get(status, 0))
        yield by_status
        if purged_at:
            yield _gauge("lobby_retention_last_purge_age_seconds", "Time since expired patient data was last purged",
                         max(0.0, now - float(purged_at[0])))  # fmt: skip
        yield from self._kiosk_gauges(kiosks)

    def _kiosk_gauges(self, kiosks: list[KioskStatus]) -> Iterator[Metric]:
        offline_after = self.config.agent.kiosk_offline_after_s
        online = _gauge("lobby_kiosk_online", "1 when the kiosk sent a heartbeat recently", labels=["kiosk"])
        age = _gauge("lobby_kiosk_last_heartbeat_age_seconds", "Time since the kiosk's last heartbeat", labels=["kiosk"])
        spool = _gauge("lobby_kiosk_spool_depth", "Check-ins the kiosk holds offline", labels=["kiosk"])
        device_labels = ["kiosk", "device", "kind"]
        usable = _gauge("lobby_device_usable", "1 when the device works (online or degraded)", labels=device_labels)
        reason = _gauge("lobby_device_reason", "The device's reason, one of a fixed set", labels=[*device_labels, "reason"])
        paper_low = _gauge("lobby_device_paper_low", "1 when a printer reports paper low", labels=device_labels)
        for kiosk in kiosks:
            is_online = kiosk.silent_s is not None and kiosk.silent_s <= offline_after
            online.add_metric([kiosk.kiosk_id], float(is_online))
            if kiosk.silent_s is not None:
                age.add_metric([kiosk.kiosk_id], kiosk.silent_s)
            if not is_online:
                continue  # its device states are as old as its last heartbeat: the kiosk alert covers it
            spool.add_metric([kiosk.kiosk_id], kiosk.spool_depth)
            for device in kiosk.devices:
                labels = [kiosk.kiosk_id, safe_label(str(device.get("name", ""))), safe_label(str(device.get("kind", "")))]
                why = reason_label(str(device.get("reason", "")))
                usable.add_metric(labels, float(device.get("state") in USABLE_STATES))
                reason.add_metric([*labels, why], 1)
                paper_low.add_metric(labels, float(why == "paper_low"))
        yield from (online, age, spool, usable, reason, paper_low)

    def _sync_gauges(self, now: float) -> Iterator[Metric]:
        reachable = self.sync.health.central_reachable
        if reachable is not None:
            yield _gauge("checkin_central_reachable", "1 when the last contact with the central system worked", float(reachable))
        if self.clock.offset_s is not None:
            yield _gauge("lobby_central_clock_offset_seconds",
                         "Central system's clock minus this host's (HTTP Date of its last answer)", self.clock.offset_s)  # fmt: skip

    def _host_gauges(self) -> Iterator[Metric]:
        config = self.config
        usage = shutil.disk_usage(config.data_dir)
        yield _gauge("lobby_data_dir_free_bytes", "Free space on the data directory's file system", usage.free)
        yield _gauge("lobby_data_dir_size_bytes", "Size of the data directory's file system", usage.total)
        if config.uses_tls:
            cert_path, _ = tls.certificate_paths(config)
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
            yield _gauge("lobby_tls_certificate_expiry_timestamp_seconds", "notAfter of the agent's TLS certificate",
                         certificate.not_valid_after_utc.timestamp())  # fmt: skip


def _arrivals_by_status(conn: sqlite3.Connection, day: str) -> dict[str, int]:
    return dict(conn.execute("SELECT status, COUNT(*) FROM arrivals WHERE day = ? GROUP BY status", (day,)).fetchall())


def _package_version() -> str:
    try:
        return metadata.version("lobby-checkin")
    except metadata.PackageNotFoundError:
        return "source"


class AgentMetrics:
    def __init__(
        self, config: SiteConfig, store: Store, schedule: ScheduleCache, events: EventBus, sync: SyncWorker, *,
        central: Connector | None = None, loop_lag: LoopLagMonitor | None = None,
    ):  # fmt: skip
        self.registry = CollectorRegistry(auto_describe=False)
        self.lookups = Counter("checkin_lookups", "Lookups by outcome", ["outcome"], registry=self.registry)
        self.checkins = Counter("checkin_checkins", "Check-ins stored", registry=self.registry)
        self.checkins_refused = Counter("checkin_checkins_refused", "Check-ins refused, by error", ["error"],
                                        registry=self.registry)  # fmt: skip
        self.visits_repeated = Counter(
            "checkin_visits_repeated", "Check-ins for an appointment already arrived (existing ticket, or merged)",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.task_failures = Counter("lobby_background_task_failures", "Background task failures (each restarted)",
                                     ["task"], registry=self.registry)  # fmt: skip
        self.checkin_duration = Histogram("checkin_checkin_duration_seconds", "Time to store and answer a check-in",
                                          buckets=LATENCY_BUCKETS_S, registry=self.registry)  # fmt: skip
        self.clock = CentralClock()
        client = getattr(central, "client", None)
        if isinstance(client, httpx.AsyncClient):  # HTTP-based central systems (FHIR) answer with a Date
            self.clock.watch(client)
        self.registry.register(AgentStateCollector(config, store, schedule, events, sync, self.clock, loop_lag))

    async def exposition(self) -> bytes:
        """The text format; collectors read the store, so this runs in a worker thread."""
        return await anyio.to_thread.run_sync(generate_latest, self.registry)
