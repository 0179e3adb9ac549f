"""The agent's FastAPI application and its composition root.

    app = create_app(config)          # uvicorn runs it; the lifespan opens and closes everything

`Agent` builds every collaborator once at startup (config, store, events, live queue, schedule cache,
consent library, kiosk and staff auth, lookup limiter, metrics, central connector, sync worker, the SIU
feed when the schedule comes over HL7 v2, the eligibility service when one is configured), runs the
background tasks, and closes it all at shutdown. Routes never see it: they declare the collaborators they
use through the typed dependencies of edge_agent/dependencies.py, which find what `Agent.collaborators`
provides. `create_app` installs the request limits (edge_agent/limits.py) and every router: kiosk API,
health/metrics, desk, fleet, consents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncIterator, Coroutine

from fastapi import FastAPI

from . import arrivals, dependencies, loop_lag, retention, siu_feed, systemd_notify, tls
from .auth import KioskAuth
from .central import connector_for
from .config import SiteConfig
from .consents import retention as consent_retention
from .consents.archive import StoreArchive
from .consents.documents import ConsentLibrary
from .desk.auth import StaffAuth
from .dependencies import Collaborators
from .discovery import Advertisement
from .eligibility.service import EligibilityService
from .events import EventBus
from .key_rotation import hold_agent_lock
from .keys import SiteKey
from .live_queue import LiveQueue
from .quota import Quota
from .metrics import AgentMetrics
from .ratelimit import RateLimiter
from .schedule import DemoSchedule, ScheduleCache
from .store import Store
from .sync import SyncWorker

log = logging.getLogger(__name__)
FIRST_REFRESH_WAIT_S = 5.0


class Agent:
    def __init__(self, config: SiteConfig, certificates: tls.CertificateWatcher | None = None):
        self.config = config
        self._data_lock = hold_agent_lock(config)  # `rotate-site-key` refuses to run beside a live agent
        self.store = Store(config.store_path, SiteKey.load_or_create(config.key_file))
        self.central = connector_for(config, self.store)  # the store holds the signed consents to send
        self.sync = SyncWorker(self.store, self.central, config.central)
        sources = {"central": self.central, "hl7v2": None}  # hl7v2: pushed by the SIU feed
        source = sources.get(config.schedule.source, DemoSchedule(config.site.id, config.site.timezone))
        self.schedule = ScheduleCache(self.store, source, config.site.timezone, config.schedule.refresh_s)
        self.siu_feed = siu_feed.for_config(config, self.store, self.schedule)
        events = EventBus(board_limits=Quota(config.limits.board_streams, config.limits.board_streams_per_source))
        live_queue = LiveQueue(
            self.store, events, config.site, notify_sync=self.sync.notify if config.central.kind != "none" else None
        )
        lag = loop_lag.LoopLagMonitor() if loop_lag.enabled() else None
        metrics = AgentMetrics(
            config, self.store, self.schedule, events, self.sync, central=self.central, loop_lag=lag
        )  # after the connector: it watches central's clock
        self.eligibility = (
            EligibilityService(config, self.store, self.schedule, events) if config.eligibility.kind != "none" else None
        )
        self.collaborators = Collaborators(
            config=config, store=self.store, events=events, live_queue=live_queue, schedule=self.schedule,
            consent_library=ConsentLibrary(config.consents_dir, archive=StoreArchive(self.store)),
            kiosk_auth=KioskAuth(self.store), lookup_limiter=RateLimiter(config.agent.lookup_rate_per_minute),
            staff_auth=StaffAuth(self.store, config.desk, secure_cookies=config.uses_tls),
            metrics=metrics, sync=self.sync, central=self.central, eligibility=self.eligibility, loop_lag=lag,
            certificates=certificates,
        )  # fmt: skip
        tls_fingerprint = tls.fingerprint(tls.ensure_certificate(config)[0]) if config.uses_tls else ""
        self.advertisement = Advertisement(config, config.agent.port, tls_fingerprint)
        self._tasks: list[asyncio.Task[object]] = []

    # --- life cycle ----------------------------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, object], name: str) -> asyncio.Task[object]:
        """Run a background task for the agent's lifetime (cancelled at shutdown, failures logged)."""
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(self._report_failure)
        self._tasks.append(task)
        return task

    @staticmethod
    def _report_failure(task: asyncio.Task[object]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", extra={"event": task.get_name(), "error": type(task.exception()).__name__})

    async def start(self) -> None:
        from .central.check import StartRefused, startup_refusals

        if refusals := await startup_refusals(self.config, self.central):
            for refusal in refusals:
                log.error("central cannot do what the site asks", extra={"error": refusal})
            raise StartRefused(refusals)
        if self.collaborators.loop_lag is not None:
            self.spawn(self.collaborators.loop_lag.run(), "loop-lag-monitor")
        await asyncio.to_thread(self.schedule.load_cached)
        if self.siu_feed is not None:
            await self.siu_feed.start()
        first_refresh = asyncio.ensure_future(self.schedule.refresh())
        await asyncio.wait([first_refresh], timeout=FIRST_REFRESH_WAIT_S)  # serve the cache if it is slow
        self.spawn(self.schedule.run(first_refresh), "schedule-refresh")
        self.spawn(self.collaborators.live_queue.run(), "board-publisher")
        self.spawn(self.sync.run(), "sync-worker")
        if self.config.agent.advertise:
            self.spawn(self.advertisement.start(), "zeroconf-register")
        self.spawn(systemd_notify.feed_watchdog(self.healthy), "systemd-watchdog")
        if (certificates := self.collaborators.certificates) is not None:
            self.spawn(certificates.run(lambda: self.store.read(tls.kiosk_pins)), "certificate-watcher")
        # --- other background workers: self.spawn(worker(), "name") here ---
        self.spawn(retention.keep_purging(self.store, self.config.agent.retention_days, self.today), "retention")
        self.spawn(consent_retention.keep_purging(self.store, self.config.agent.retention_days), "consent-retention")
        if self.eligibility is not None:
            self.spawn(self.eligibility.supervised(), "eligibility")

    def today(self) -> str:
        return arrivals.site_day(self.config.site.timezone)

    async def healthy(self) -> bool:
        """What the systemd watchdog asks: the store answers and the sync loop is still running."""
        sync_alive = any(task.get_name() == "sync-worker" and not task.done() for task in self._tasks)
        return sync_alive and await self.store.read(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)

    async def stop(self) -> None:
        self.collaborators.events.close()
        with contextlib.suppress(Exception):
            await self.sync.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.siu_feed is not None:
            with contextlib.suppress(Exception):
                await self.siu_feed.stop()
        with contextlib.suppress(Exception):
            await self.advertisement.stop()
        if self.eligibility is not None:
            with contextlib.suppress(Exception):
                await self.eligibility.close()
        self.store.close()
        self._data_lock.close()


def create_app(config: SiteConfig, certificates: tls.CertificateWatcher | None = None) -> FastAPI:
    """`certificates`: the served TLS certificate, rotated in place (edge_agent/server.py builds it)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        agent = Agent(config, certificates)
        dependencies.provide(app, agent.collaborators)
        await agent.start()
        log.info("agent started", extra={"site_id": config.site.id, "listen": config.agent.listen})
        try:
            yield
        finally:
            await agent.stop()
            dependencies.provide(app, None)
            log.info("agent stopped", extra={"site_id": config.site.id})

    app = FastAPI(
        title="Lobby check-in edge agent", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},  # /metrics and JSON logs are ours
    )  # fmt: skip

    from . import kiosk_api, limits, observability, problems

    problems.install(app)
    limits.install(app, config)  # body sizes, before any route reads a byte
    kiosk_api.install(app)  # first: routes are matched in order, and check-ins are the hot path
    app.include_router(observability.router)

    # --- routers of other areas: app.include_router(...) / install(app) here -----------------------
    from . import desk

    desk.install(app)

    from . import fleet

    fleet.install(app)

    from .consents import routes as consent_routes

    app.include_router(consent_routes.router)

    from . import support_routes

    support_routes.install(app)

    # --- static files: app.mount(...) here ------------------------------------------------------------

    return app
