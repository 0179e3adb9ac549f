"""What routes may use, as typed FastAPI dependencies: each route declares the collaborators it needs.

    from edge_agent.dependencies import KioskId, LiveQueueDep, StoreDep

    @router.post("/api/v1/things")
    async def add_thing(store: StoreDep, live_queue: LiveQueueDep, kiosk_id: KioskId) -> dict: ...

The composition root (edge_agent/app.py) builds one `Collaborators` when the app starts and hands it to
`provide(app, ...)`; the functions here are the only code that knows where it is kept. They are async so
that FastAPI calls them inline (a plain `def` dependency would cost a thread hop per request); a route
that skips FastAPI's dependency solving (the check-in hot path) awaits them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, Request
from starlette.requests import HTTPConnection

from .auth import KioskAuth
from .central.base import Connector
from .config import SiteConfig
from .consents.documents import ConsentLibrary
from .eligibility.service import EligibilityService
from .events import EventBus
from .live_queue import LiveQueue
from .loop_lag import LoopLagMonitor
from .metrics import AgentMetrics
from .ratelimit import RateLimiter
from .schedule import ScheduleCache
from .store import Store
from .supervision import Supervisor, WriteProbe
from .support_signals import CommandSignals
from .sync import SyncWorker
from .tls import CertificateWatcher

if TYPE_CHECKING:  # desk.auth builds its StaffAuthDep on get_staff_auth: it imports this module
    from .desk.auth import StaffAuth


@dataclass(frozen=True)
class Collaborators:
    config: SiteConfig
    store: Store
    events: EventBus
    live_queue: LiveQueue
    schedule: ScheduleCache
    consent_library: ConsentLibrary
    kiosk_auth: KioskAuth
    lookup_limiter: RateLimiter
    staff_auth: StaffAuth
    metrics: AgentMetrics
    sync: SyncWorker
    central: Connector
    eligibility: EligibilityService | None = None  # only with an [eligibility] clearinghouse
    loop_lag: LoopLagMonitor | None = None  # only when the debug monitor is enabled
    support_signals: CommandSignals = field(default_factory=CommandSignals)  # remote support's long polls
    certificates: CertificateWatcher | None = None  # only when serving TLS (edge_agent/server.py)
    supervisor: Supervisor | None = None  # the background tasks (edge_agent/supervision.py); /healthz reads it
    write_probe: WriteProbe | None = None  # whether the store still commits; /healthz reads it


def provide(app: FastAPI, collaborators: Collaborators | None) -> None:
    """Called by the composition root at startup (and with None at shutdown)."""
    app.state.collaborators = collaborators


def provided(app: FastAPI) -> Collaborators | None:
    return getattr(app.state, "collaborators", None)


def _of(connection: HTTPConnection) -> Collaborators:
    collaborators = provided(connection.app)
    if collaborators is None:
        raise RuntimeError("the agent's collaborators are not provided (app not started)")
    return collaborators


async def get_config(request: Request) -> SiteConfig:
    return _of(request).config


async def get_store(request: Request) -> Store:
    return _of(request).store


async def get_events(request: Request) -> EventBus:
    return _of(request).events


async def get_live_queue(request: Request) -> LiveQueue:
    return _of(request).live_queue


async def get_schedule(request: Request) -> ScheduleCache:
    return _of(request).schedule


async def get_consent_library(request: Request) -> ConsentLibrary:
    return _of(request).consent_library


async def get_kiosk_auth(request: Request) -> KioskAuth:
    return _of(request).kiosk_auth


async def get_lookup_limiter(request: Request) -> RateLimiter:
    return _of(request).lookup_limiter


async def get_staff_auth(request: Request) -> StaffAuth:
    return _of(request).staff_auth


async def get_metrics(request: Request) -> AgentMetrics:
    return _of(request).metrics


async def get_sync(request: Request) -> SyncWorker:
    return _of(request).sync


async def get_central(request: Request) -> Connector:
    return _of(request).central


async def get_eligibility(request: Request) -> EligibilityService | None:
    return _of(request).eligibility


async def get_support_signals(request: Request) -> CommandSignals:
    return _of(request).support_signals


async def get_certificates(request: Request) -> CertificateWatcher | None:
    return _of(request).certificates


async def get_supervisor(request: Request) -> Supervisor | None:
    return _of(request).supervisor


async def get_write_probe(request: Request) -> WriteProbe | None:
    return _of(request).write_probe


ConfigDep = Annotated[SiteConfig, Depends(get_config)]
StoreDep = Annotated[Store, Depends(get_store)]
EventsDep = Annotated[EventBus, Depends(get_events)]
LiveQueueDep = Annotated[LiveQueue, Depends(get_live_queue)]
ScheduleDep = Annotated[ScheduleCache, Depends(get_schedule)]
ConsentLibraryDep = Annotated[ConsentLibrary, Depends(get_consent_library)]
KioskAuthDep = Annotated[KioskAuth, Depends(get_kiosk_auth)]
LookupLimiterDep = Annotated[RateLimiter, Depends(get_lookup_limiter)]
MetricsDep = Annotated[AgentMetrics, Depends(get_metrics)]
SyncDep = Annotated[SyncWorker, Depends(get_sync)]
CentralDep = Annotated[Connector, Depends(get_central)]
EligibilityDep = Annotated[EligibilityService | None, Depends(get_eligibility)]
SupportSignalsDep = Annotated[CommandSignals, Depends(get_support_signals)]
CertificatesDep = Annotated[CertificateWatcher | None, Depends(get_certificates)]
SupervisorDep = Annotated[Supervisor | None, Depends(get_supervisor)]
WriteProbeDep = Annotated[WriteProbe | None, Depends(get_write_probe)]


async def require_kiosk(request: Request, kiosk_auth: KioskAuthDep) -> str:
    """The authenticated kiosk's id (401 Problem without a valid `Authorization: Bearer` token)."""
    return await kiosk_auth.authenticate(request.headers.get("authorization", ""))


KioskId = Annotated[str, Depends(require_kiosk)]
