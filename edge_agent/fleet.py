"""The fleet view (`/fleet`): every site with its kiosks and devices, sync health and today's counts.

Served by the agent whose `[fleet] prometheus_url` names the Prometheus that scrapes every site
(deploy/monitoring/); staff sign in as at the desk. The page is rendered on the server from instant
queries of Prometheus's HTTP API, so it only ever shows what /metrics exposes: no patient data.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Iterator, TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from .dependencies import ConfigDep
from .desk.auth import StaffSession, require_staff_page
from .desk.pages import SECURITY_HEADERS
from .metrics import ARRIVAL_STATUSES
from .problems import ProblemError

HERE = Path(__file__).parent / "fleet_page"
QUERIES = {
    "up": 'up{job=~"lobby-.+"}',
    "info": "lobby_agent_info",
    "open": "lobby_site_open",
    "kiosk_online": "lobby_kiosk_online",
    "kiosk_age": "lobby_kiosk_last_heartbeat_age_seconds",
    "device_usable": "lobby_device_usable",
    "device_reason": "lobby_device_reason",
    "pending": "checkin_outbox_pending",
    "dead": "checkin_outbox_dead",
    "oldest": "checkin_outbox_oldest_pending_age_seconds",
    "central": "checkin_central_reachable",
    "schedule_age": "lobby_schedule_age_seconds",
    "today": "lobby_arrivals_today",
    "alerts": 'ALERTS{alertstate="firing", alertname=~"Lobby.+"}',
}

router = APIRouter()
templates = Jinja2Templates(directory=HERE)


@dataclass
class DeviceView:
    name: str
    kind: str
    usable: bool
    reason: str


@dataclass
class KioskView:
    kiosk_id: str
    online: bool
    heartbeat_age_s: float | None = None
    devices: list[DeviceView] = field(default_factory=list)


@dataclass
class SiteView:
    site_id: str
    name: str = ""
    up: bool = False
    open: bool | None = None
    kiosks: dict[str, KioskView] = field(default_factory=dict)
    outbox_pending: int | None = None
    dead_letters: int | None = None
    oldest_pending_s: float | None = None
    central_reachable: bool | None = None
    schedule_age_s: float | None = None
    today: dict[str, int] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)

    @property
    def checkins_today(self) -> int:
        return sum(self.today.values())

    def kiosk(self, kiosk_id: str) -> KioskView:
        return self.kiosks.setdefault(kiosk_id, KioskView(kiosk_id, online=False))


class Sample(TypedDict):
    """One series of a Prometheus instant vector: its labels and its value."""

    metric: dict[str, str]
    value: list[float | str]  # a JSON array: [unix time, "value"]


class PrometheusUnavailable(Exception):
    pass


async def query_all(base_url: str, timeout_s: float) -> dict[str, list[Sample]]:
    """Every query of QUERIES at once; each answer is Prometheus's instant vector (`result`)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s) as client:

        async def one(expr: str) -> list[Sample]:
            response = await client.get("/api/v1/query", params={"query": expr})
            response.raise_for_status()
            body = response.json()
            if body.get("status") != "success":
                raise PrometheusUnavailable(body.get("error", "query failed"))
            result: list[Sample] = body["data"]["result"]
            return result

        try:
            results = await asyncio.gather(*(one(expr) for expr in QUERIES.values()))
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusUnavailable(type(exc).__name__) from exc
    return dict(zip(QUERIES, results))


def fleet_from(results: dict[str, list[Sample]]) -> list[SiteView]:
    """Sites (by the `site` target label) from the query answers."""
    sites: dict[str, SiteView] = {}

    def each(name: str) -> Iterator[tuple[SiteView, dict[str, str], float]]:
        for sample in results.get(name, []):
            labels = sample["metric"]
            if "site" in labels:
                yield sites.setdefault(labels["site"], SiteView(labels["site"])), labels, float(sample["value"][1])

    for site, _, value in each("up"):
        site.up = value == 1
    for site, labels, _ in each("info"):
        site.name = labels.get("site_name", "")
    for site, _, value in each("open"):
        site.open = value == 1
    for site, labels, value in each("kiosk_online"):
        site.kiosk(labels["kiosk"]).online = value == 1
    for site, labels, value in each("kiosk_age"):
        site.kiosk(labels["kiosk"]).heartbeat_age_s = value
    reasons = {(s.site_id, l["kiosk"], l["device"], l["kind"]): l["reason"] for s, l, _ in each("device_reason")}
    for site, labels, value in each("device_usable"):
        key = (site.site_id, labels["kiosk"], labels["device"], labels["kind"])
        site.kiosk(labels["kiosk"]).devices.append(
            DeviceView(labels["device"], labels["kind"], value == 1, reasons.get(key, "none"))
        )
    for site, _, value in each("pending"):
        site.outbox_pending = int(value)
    for site, _, value in each("dead"):
        site.dead_letters = int(value)
    for site, _, value in each("oldest"):
        site.oldest_pending_s = value
    for site, _, value in each("central"):
        site.central_reachable = value == 1
    for site, _, value in each("schedule_age"):
        site.schedule_age_s = value
    for site, labels, value in each("today"):
        site.today[labels["status"]] = int(value)
    for site, labels, _ in each("alerts"):
        site.alerts.append(labels["alertname"] + (f" ({labels['kiosk']})" if "kiosk" in labels else ""))
    for site in sites.values():
        site.alerts.sort()
        for kiosk in site.kiosks.values():
            kiosk.devices.sort(key=lambda device: (device.kind, device.name))
    return sorted(sites.values(), key=lambda site: site.site_id)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


templates.env.filters["duration"] = duration


@router.get("/fleet", response_class=HTMLResponse)
async def fleet_page(
    request: Request, config: ConfigDep, staff: Annotated[StaffSession, Depends(require_staff_page)]
) -> HTMLResponse:  # fmt: skip
    if not config.fleet.prometheus_url:
        raise ProblemError(404, "not_found", "This agent does not serve the fleet view ([fleet] prometheus_url).")
    error, sites = "", []
    try:
        sites = fleet_from(await query_all(config.fleet.prometheus_url, config.fleet.timeout_s))
    except PrometheusUnavailable:
        error = "Prometheus does not answer; the figures below are missing until it does."
    response = templates.TemplateResponse(request, "fleet.html", {
        "sites": sites, "error": error, "staff": staff, "statuses": ARRIVAL_STATUSES,
        "as_of": time.strftime("%H:%M:%S UTC", time.gmtime()),
    }, status_code=503 if error else 200)  # fmt: skip
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get("/fleet/fleet.css", include_in_schema=False)
async def fleet_css() -> FileResponse:
    return FileResponse(HERE / "fleet.css", media_type="text/css", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    app.include_router(router)
