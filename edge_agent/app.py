"""The agent's FastAPI application and the `Agent` that every route reaches as `request.app.state.agent`.

    app = create_app(config)          # uvicorn runs it; the lifespan opens and closes everything

`Agent` holds: config, key (SiteKey), store, events (staff / board channels), schedule (today's cache),
consent_library, central (connector), sync (SyncWorker, its `health`), kiosk_auth, lookup_limiter, metrics.
Routes change the queue through edge_agent.arrivals inside `agent.store.write(...)`, then call
`agent.publish_arrival(entry)` or `agent.publish_transition(change)` so the desk and the board update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import AsyncIterator, Coroutine

from fastapi import FastAPI

from . import arrivals, retention, siu_feed, systemd_notify, tls
from .auth import KioskAuth
from .central import connector_for
from .config import SiteConfig
from .consents.archive import StoreArchive
from .consents.documents import ConsentLibrary
from .discovery import Advertisement
from lobby_core.contract import BoardState, Heartbeat, HelpRequest
from .events import EventBus, StreamLimits
from .keys import SiteKey
from .metrics import AgentMetrics
from .ratelimit import RateLimiter
from .schedule import DemoSchedule, ScheduleCache
from .store import Store
from .sync import SyncWorker

log = logging.getLogger(__name__)
BOARD_COALESCE_S = 0.2
FIRST_REFRESH_WAIT_S = 5.0


class Agent:
    def __init__(self, config: SiteConfig):
        self.config = config
        self.key = SiteKey.load_or_create(config.key_file)
        self.store = Store(config.store_path, self.key)
        self.events = EventBus(board_limits=StreamLimits(config.limits.board_streams, config.limits.board_streams_per_source))
        self.kiosk_auth = KioskAuth(self.store)
        self.lookup_limiter = RateLimiter(config.agent.lookup_rate_per_minute)
        self.consent_library = ConsentLibrary(config.consents_dir, archive=StoreArchive(self.store))
        self.central = connector_for(config, self.store)  # the store holds the signed consents to send
        self.sync = SyncWorker(self.store, self.central, config.central)
        self.metrics = AgentMetrics(self)  # after the connector: it watches central's clock
        sources = {"central": self.central, "hl7v2": None}  # hl7v2: pushed by the SIU feed
        source = sources.get(config.schedule.source, DemoSchedule(config.site.id, config.site.timezone))
        self.schedule = ScheduleCache(self.store, source, config.site.timezone, config.schedule.refresh_s)
        self.siu_feed = siu_feed.for_config(config, self.store, self.schedule)
        self.tls_fingerprint = tls.fingerprint(tls.ensure_certificate(config)[0]) if config.uses_tls else ""
        self.advertisement = Advertisement(config, config.agent.port, self.tls_fingerprint)
        self.eligibility = None
        if config.eligibility.kind != "none":
            from .eligibility.service import EligibilityService

            self.eligibility = EligibilityService(self)
        self._tasks: list[asyncio.Task] = []
        self._board_dirty = asyncio.Event()
        self._board: BoardState | None = None
        self._board_day = ""

    # --- life cycle ----------------------------------------------------------------------------------

    def spawn(self, coroutine: Coroutine, name: str) -> asyncio.Task:
        """Run a background task for the agent's lifetime (cancelled at shutdown, failures logged)."""
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(self._report_failure)
        self._tasks.append(task)
        return task

    @staticmethod
    def _report_failure(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", extra={"event": task.get_name(), "error": type(task.exception()).__name__})

    async def start(self) -> None:
        from .central.check import StartRefused, startup_refusals

        if refusals := await startup_refusals(self.config, self.central):
            for refusal in refusals:
                log.error("central cannot do what the site asks", extra={"error": refusal})
            raise StartRefused(refusals)
        self.schedule.load_cached()
        if self.siu_feed is not None:
            await self.siu_feed.start()
        first_refresh = asyncio.ensure_future(self.schedule.refresh())
        await asyncio.wait([first_refresh], timeout=FIRST_REFRESH_WAIT_S)  # serve the cache if it is slow
        self.spawn(self.schedule.run(first_refresh), "schedule-refresh")
        self.spawn(self._publish_board(), "board-publisher")
        self.spawn(self.sync.run(), "sync-worker")
        if self.config.agent.advertise:
            self.spawn(self.advertisement.start(), "zeroconf-register")
        self.spawn(systemd_notify.feed_watchdog(self.healthy), "systemd-watchdog")
        # --- other background workers: self.spawn(worker(), "name") here ---
        self.spawn(retention.keep_purging(self.store, self.config.agent.retention_days, self.today), "retention")
        from .consents.retention import keep_purging

        self.spawn(keep_purging(self.store, self.config.agent.retention_days), "consent-retention")
        if self.eligibility is not None:
            self.eligibility.start()

    async def healthy(self) -> bool:
        """What the systemd watchdog asks: the store answers and the sync loop is still running."""
        sync_alive = any(task.get_name() == "sync-worker" and not task.done() for task in self._tasks)
        return sync_alive and await self.store.read(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)

    async def stop(self) -> None:
        self.events.close()
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

    # --- queue and board -----------------------------------------------------------------------------

    def today(self) -> str:
        return arrivals.site_day(self.config.site.timezone)

    def publish_arrival(self, entry: arrivals.QueueEntry) -> None:
        """After a check-in committed: the desk sees it (staff channel), the board updates, sync starts."""
        self.events.staff.publish("arrival", entry.as_dict())
        self.board_changed()
        if self.config.central.kind != "none":
            self.sync.notify()

    def publish_transition(self, change: arrivals.Transition | None) -> None:
        """After a status change committed (call / room / complete / no-show / undo)."""
        if change is None:
            return
        self.events.staff.publish("transition", {
            "checkin_id": change.checkin_id, "ticket": change.ticket, "action": change.action,
            "from_status": change.from_status, "to_status": change.to_status, "room": change.room, "at": change.at,
        })  # fmt: skip
        self.board_changed()

    def board_changed(self) -> None:
        self._board_dirty.set()

    async def board_state(self) -> BoardState:
        day = self.today()
        if self._board is None or self._board_day != day or self._board_dirty.is_set():
            self._board = await self.store.read(
                lambda c: arrivals.board_state(c, day, self.config.site.name, list(self.config.site.languages))
            )
            self._board_day = day
        return self._board

    async def _publish_board(self) -> None:
        """One `board` event (the whole BoardState) per burst of changes, at most every BOARD_COALESCE_S."""
        while True:
            await self._board_dirty.wait()
            await asyncio.sleep(BOARD_COALESCE_S)
            self._board_dirty.clear()
            day = self.today()
            self._board = await self.store.read(
                lambda c: arrivals.board_state(c, day, self.config.site.name, list(self.config.site.languages))
            )
            self._board_day = day
            self.events.board.publish("board", self._board.model_dump(mode="json"))

    async def waiting_count(self) -> int:
        day = self.today()
        return await self.store.read(lambda c: arrivals.waiting_count(c, day))

    # --- kiosks --------------------------------------------------------------------------------------

    async def record_heartbeat(self, beat: Heartbeat) -> None:
        now = arrivals.now_iso()
        await self.store.write(
            lambda c: c.execute(
                "UPDATE kiosks SET last_seen_at = ?, heartbeat = ? WHERE kiosk_id = ?",
                (now, beat.model_dump_json(), beat.kiosk_id),
            )
        )
        self.events.staff.publish("kiosk", {"kiosk_id": beat.kiosk_id, "at": now, **beat.model_dump(mode="json")})

    async def raise_help(self, help: HelpRequest) -> None:
        now = arrivals.now_iso()
        await self.store.write(lambda c: self.store.set_meta(c, f"help:{help.kiosk_id}", now))
        self.events.staff.publish("help", {"at": now, **help.model_dump(mode="json")})

    # --- sync ------------------------------------------------------------------------------------------

    def central_reachable(self) -> bool | None:
        return self.sync.health.central_reachable

    @property
    def sync_status(self):
        return self.sync.health


def create_app(config: SiteConfig) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        agent = Agent(config)
        app.state.agent = agent
        await agent.start()
        log.info("agent started", extra={"site_id": config.site.id, "listen": config.agent.listen})
        try:
            yield
        finally:
            await agent.stop()
            log.info("agent stopped", extra={"site_id": config.site.id})

    app = FastAPI(
        title="Lobby check-in edge agent", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},  # /metrics and JSON logs are ours
    )  # fmt: skip
    app.state.config = config
    app.state.started_at = time.time()

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

    # --- static files: app.mount(...) here ------------------------------------------------------------

    return app
