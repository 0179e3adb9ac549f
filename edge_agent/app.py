"""The agent's FastAPI application and its composition root.

    app = create_app(config)          # uvicorn runs it; the lifespan opens and closes everything

`Agent` builds every collaborator once at startup (config, store, events, live queue, schedule cache,
consent library, kiosk and staff auth, lookup limiter, metrics, central connector, sync worker, the SIU
feed when the schedule comes over HL7 v2, the eligibility service when one is configured), runs the
background tasks under one supervisor (edge_agent/supervision.py: a failure is logged, counted and
restarted with backoff; the write probe tells health whether the store still commits), and closes it
all at shutdown. Routes never see it: they declare the collaborators they
use through the typed dependencies of edge_agent/dependencies.py, which find what `Agent.collaborators`
provides. `create_app` installs the request limits (edge_agent/limits.py) and every router: kiosk API,
health/metrics, desk, fleet, consents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

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
from .store import AGENT_LOCK_WAIT_S, Store
from .supervision import Supervisor, TaskFactory, WriteProbe
from .sync import SyncWorker

log = logging.getLogger(__name__)
FIRST_REFRESH_WAIT_S = 5.0


class Agent:
    def __init__(self, config: SiteConfig, certificates: tls.CertificateWatcher | None = None):
        self.config = config
        self._data_lock = hold_agent_lock(config)  # `rotate-site-key` refuses to run beside a live agent
        self.store = Store(config.store_path, SiteKey.load_or_create(config.key_file), lock_wait_s=AGENT_LOCK_WAIT_S)
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
        self.supervisor = Supervisor(failures=metrics.task_failures)
        self.write_probe = WriteProbe(self.store, config.data_dir)
        self.collaborators = Collaborators(
            config=config, store=self.store, events=events, live_queue=live_queue, schedule=self.schedule,
            consent_library=ConsentLibrary(config.consents_dir, archive=StoreArchive(self.store)),
            kiosk_auth=KioskAuth(self.store), lookup_limiter=RateLimiter(config.agent.lookup_rate_per_minute),
            staff_auth=StaffAuth(self.store, config.desk, secure_cookies=config.uses_tls),
            metrics=metrics, sync=self.sync, central=self.central, eligibility=self.eligibility, loop_lag=lag,
            certificates=certificates, supervisor=self.supervisor, write_probe=self.write_probe,
        )  # fmt: skip
        tls_fingerprint = tls.fingerprint(tls.ensure_certificate(config)[0]) if config.uses_tls else ""
        self.advertisement = Advertisement(config, config.agent.port, tls_fingerprint)

    # --- life cycle ----------------------------------------------------------------------------------

    def spawn(self, factory: TaskFactory, name: str, stale_after_s: float | None = None) -> asyncio.Task[None]:
        """Run `factory()` for the agent's lifetime under the supervisor (edge_agent/supervision.py): a
        failure is logged and counted, and a new `factory()` starts after a backoff; cancelled at shutdown."""
        return self.supervisor.spawn(name, factory, stale_after_s=stale_after_s)

    async def start(self) -> None:
        from .central.check import StartRefused, startup_refusals

        if refusals := await startup_refusals(self.config, self.central):
            for refusal in refusals:
                log.error("central cannot do what the site asks", extra={"error": refusal})
            raise StartRefused(refusals)
        if (lag := self.collaborators.loop_lag) is not None:
            self.spawn(lag.run, "loop-lag-monitor")
        await asyncio.to_thread(self.schedule.load_cached)
        if self.siu_feed is not None:
            await self.siu_feed.start()
        first_refresh = asyncio.ensure_future(self.schedule.refresh())
        await asyncio.wait([first_refresh], timeout=FIRST_REFRESH_WAIT_S)  # serve the cache if it is slow
        await self.write_probe.check()  # /healthz knows about writes from the start
        pending_first: list[asyncio.Future[bool]] = [first_refresh]  # a restarted loop refreshes anew
        beat = self.supervisor.beater
        refresh_stale_s = 2 * self.schedule.refresh_s + 120
        self.spawn(lambda: self.schedule.run(pending_first.pop() if pending_first else None, beat("schedule-refresh")),
                   "schedule-refresh", stale_after_s=refresh_stale_s)  # fmt: skip
        self.spawn(lambda: self.write_probe.run(beat("write-probe")), "write-probe")
        self.spawn(self.collaborators.live_queue.run, "board-publisher")
        self.spawn(self.sync.run, "sync-worker")
        if self.config.agent.advertise:
            self.spawn(self.advertisement.start, "zeroconf-register")
        self.spawn(lambda: systemd_notify.feed_watchdog(self.healthy), "systemd-watchdog")
        if (certificates := self.collaborators.certificates) is not None:
            watched = certificates
            self.spawn(lambda: watched.run(lambda: self.store.read(tls.kiosk_pins)), "certificate-watcher")
        # --- other background workers: self.spawn(factory, "name") here ---
        days, purge_stale_s = self.config.agent.retention_days, 2 * retention.PURGE_EVERY_S + 300
        self.spawn(lambda: retention.keep_purging(self.store, days, self.today, beat=beat("retention")),
                   "retention", stale_after_s=purge_stale_s)  # fmt: skip
        self.spawn(lambda: consent_retention.keep_purging(self.store, days, beat=beat("consent-retention")),
                   "consent-retention", stale_after_s=purge_stale_s)  # fmt: skip
        if (eligibility := self.eligibility) is not None:
            self.spawn(eligibility.run, "eligibility")

    def today(self) -> str:
        return arrivals.site_day(self.config.site.timezone)

    async def healthy(self) -> bool:
        """What the systemd watchdog asks: the store answers reads and took the last write probe, and no
        background task is failing or stale (`Supervisor.problems`: the sync loop, refresh, purges...)."""
        if not self.write_probe.healthy or self.supervisor.problems():
            return False
        return await self.store.read(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)

    async def stop(self) -> None:
        self.collaborators.events.close()
        with contextlib.suppress(Exception):
            await self.sync.stop()
        for task in self.supervisor.tasks:
            task.cancel()
        await asyncio.gather(*self.supervisor.tasks, return_exceptions=True)
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
