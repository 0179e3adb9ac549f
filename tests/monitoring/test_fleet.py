"""One fleet on loopback: two real agents (sites north and south, HTTPS, scrape tokens), simulated kiosks
that heartbeat over the kiosk API, and a real Prometheus scraping both with the shipped config and rules
(`for:` shortened to 1 s). It sees the kiosk-offline alert fire when a kiosk stops, and the fleet view on
north's agent shows both sites in headless Chromium, without a single patient detail anywhere."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from edge_agent.schedule import demo_appointments
from tests.agent.launcher import RunningAgent, start_agent
from tests.desk.conftest import edge_agent_cli
from tests.processes import free_port
from tests.sandbox import wait_until

from .stack import RULES, RunningPrometheus, SiteFiles, render, rules_with_short_for, start_prometheus

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
STAFF = ("fleet-it", "fleet-it-password-1")
OFFLINE_AFTER_S = 2
WAIT_S = 45.0
KIOSK_DEVICES = {
    "north-kiosk-1": [{"name": "Lobby left printer", "kind": "receipt_printer", "state": "degraded", "reason": "paper low"},
                      {"name": "ID scanner", "kind": "id_scanner", "state": "online", "reason": ""}],
    "north-kiosk-2": [{"name": "Lobby right printer", "kind": "receipt_printer", "state": "offline", "reason": "paper out"}],
    "south-kiosk-1": [{"name": "Lobby printer", "kind": "receipt_printer", "state": "online", "reason": ""}],
}  # fmt: skip


class Heartbeats:
    """Simulated kiosks: each posts its Heartbeat every 0.3 s with its own token until stopped."""

    def __init__(self, kiosks: dict[str, tuple[RunningAgent, str]]):
        self.kiosks = kiosks
        self.silenced: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def beat_once(self) -> None:
        for kiosk_id, (agent, token) in self.kiosks.items():
            if kiosk_id in self.silenced:
                continue
            body = {"kiosk_id": kiosk_id, "app_version": "test", "devices": KIOSK_DEVICES[kiosk_id], "screen": "attract"}
            response = httpx.post(f"{agent.base_url}/api/v1/kiosks/heartbeat", json=body, headers=agent.headers(token),
                                  verify=False, timeout=10)  # fmt: skip
            assert response.status_code == 204, response.text

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            self.beat_once()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@dataclass
class Fleet:
    agents: dict[str, RunningAgent]
    prometheus: RunningPrometheus
    heartbeats: Heartbeats
    tokens: dict[str, str]
    checkins: dict[str, int] = field(default_factory=dict)


def check_in(agent: RunningAgent, site_id: str, index: int) -> None:
    zone = zoneinfo.ZoneInfo("UTC")
    appointment = demo_appointments(site_id, dt.datetime.now(zone).date(), zone)[index]
    checkin_id = str(uuid.uuid4())
    body = {
        "checkin_id": checkin_id, "kiosk_id": agent.kiosk_id, "appointment_id": appointment.appointment_id,
        "identity_source": "manual", "consents": [], "answers": [],
        "patient": {"family": appointment.family, "given": appointment.given, "birth_date": appointment.birth_date.isoformat()},
    }  # fmt: skip
    response = httpx.post(f"{agent.base_url}/api/v1/checkins", json=body, verify=False, timeout=30,
                          headers=agent.headers(**{"Idempotency-Key": checkin_id}))  # fmt: skip
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("fleet")
    prometheus_port = free_port()
    tokens = {"north": "scrape-north-" + uuid.uuid4().hex, "south": "scrape-south-" + uuid.uuid4().hex}
    agents: dict[str, RunningAgent] = {}
    heartbeats = prometheus = None
    try:
        for site_id, name in (("north", "Northside Family Clinic"), ("south", "Southgate Pediatrics")):
            extra = {"fleet": {"prometheus_url": f"http://127.0.0.1:{prometheus_port}"}} if site_id == "north" else {}
            agents[site_id] = start_agent(
                base / site_id, kiosk_id=f"{site_id}-kiosk-1",
                site={"id": site_id, "name": name, "timezone": "UTC"},
                agent={"tls": "on", "metrics_token": tokens[site_id], "kiosk_offline_after_s": OFFLINE_AFTER_S},
                **extra,
            )  # fmt: skip
        north, south = agents["north"], agents["south"]
        edge_agent_cli("add-staff", STAFF[0], "--role", "front_desk", "--password-stdin", config=north.config_path,
                       stdin=STAFF[1] + "\n")  # fmt: skip
        kiosks = {"north-kiosk-1": (north, north.token), "north-kiosk-2": (north, north.enroll("north-kiosk-2")),
                  "south-kiosk-1": (south, south.token)}  # fmt: skip
        heartbeats = Heartbeats(kiosks)
        heartbeats.beat_once()
        for index in (1, 2):
            check_in(north, "north", index)
        check_in(south, "south", 3)

        lobby_dir = base / "prometheus" / "lobby"
        sites = []
        for site_id, agent in agents.items():
            certificate = (agent.data_dir / "tls" / "agent.crt").read_bytes()
            SiteFiles(site_id, site_id, f"127.0.0.1:{agent.port}", certificate, tokens[site_id]).write(lobby_dir)
            sites.append({"id": site_id, "name": site_id})
        rules_dir = rules_with_short_for(base / "prometheus" / "rules", for_s=1)
        config = base / "prometheus" / "prometheus.yml"
        config.write_text(render(
            "prometheus.yml.j2", monitoring_sites=sites, monitoring_lobby_dir=lobby_dir, monitoring_rules_dir=rules_dir,
            monitoring_scrape_interval="1s", monitoring_evaluation_interval="1s", monitoring_fleet_name="test",
            monitoring_alertmanagers=[],
        ))  # fmt: skip
        prometheus = start_prometheus(base / "prometheus", config, prometheus_port)
        yield Fleet(agents, prometheus, heartbeats, tokens, {"north": 2, "south": 1})
    finally:
        if heartbeats:
            heartbeats.stop()
        if prometheus:
            prometheus.stop()
        for agent in agents.values():
            agent.stop()


def scrape(agent: RunningAgent, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{agent.base_url}/metrics", headers=headers, verify=False, timeout=10)


def test_metrics_need_the_sites_scrape_token(fleet: Fleet) -> None:
    north = fleet.agents["north"]
    assert scrape(north, None).status_code == 401
    assert scrape(north, fleet.tokens["south"]).status_code == 401
    answer = scrape(north, fleet.tokens["north"])
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_exposition_holds_no_patient_data(fleet: Fleet) -> None:
    texts = {site: scrape(agent, fleet.tokens[site]).text for site, agent in fleet.agents.items()}
    zone = zoneinfo.ZoneInfo("UTC")
    for site in fleet.agents:
        for appointment in demo_appointments(site, dt.datetime.now(zone).date(), zone):
            for text in texts.values():
                for detail in (appointment.family, appointment.given, appointment.birth_date.isoformat(),
                               appointment.birth_date.strftime("%m/%d/%Y"), appointment.birth_date.strftime("%Y%m%d")):  # fmt: skip
                    assert detail not in text, f"patient detail in /metrics of {site}"
    north = texts["north"]
    assert 'lobby_arrivals_today{status="waiting"} 2.0' in north
    assert 'lobby_device_reason{device="Lobby left printer",kind="receipt_printer",kiosk="north-kiosk-1",reason="paper_low"} 1.0' in north
    assert 'lobby_device_usable{device="Lobby right printer",kind="receipt_printer",kiosk="north-kiosk-2"} 0.0' in north
    assert "lobby_tls_certificate_expiry_timestamp_seconds " in north and "lobby_site_open 1.0" in north
    assert "lobby_central_clock_offset_seconds" not in north  # no central system configured: absent, not 0


def test_prometheus_scrapes_both_sites_over_their_pinned_certificates(fleet: Fleet) -> None:
    def both_up() -> bool:
        up = {s["metric"]["site"]: s["value"][1] for s in fleet.prometheus.query('up{job=~"lobby-.+"}')}
        return up == {"north": "1", "south": "1"}

    wait_until(both_up, WAIT_S, "Prometheus to scrape both agents")
    targets = fleet.prometheus.api("targets")["activeTargets"]
    assert {(t["labels"]["job"], t["scrapeUrl"].split(":")[0], t["health"]) for t in targets} == {
        ("lobby-north", "https", "up"), ("lobby-south", "https", "up")}  # fmt: skip

    def checkins_today() -> dict[str, int]:
        return {s["metric"]["site"]: int(s["value"][1]) for s in fleet.prometheus.query("site:lobby_checkins_today:sum")}

    wait_until(lambda: len(checkins_today()) == 2, WAIT_S, "the recording rules for both sites")
    assert checkins_today() == fleet.checkins


def test_kiosk_offline_alert_fires_when_its_heartbeats_stop(fleet: Fleet) -> None:
    def firing(alertname: str) -> set[tuple[str, str]]:
        return {(a["labels"]["site"], a["labels"].get("kiosk", "")) for a in fleet.prometheus.alerts()
                if a["labels"]["alertname"] == alertname and a["state"] == "firing"}  # fmt: skip

    wait_until(lambda: fleet.prometheus.query("lobby_kiosk_online"), WAIT_S, "kiosk series")
    assert firing("LobbyKioskOffline") == set()
    fleet.heartbeats.silenced.add("north-kiosk-2")
    wait_until(lambda: firing("LobbyKioskOffline"), WAIT_S, "LobbyKioskOffline to fire")
    assert firing("LobbyKioskOffline") == {("north", "north-kiosk-2")}  # the others still beat


@pytest.mark.browser
def test_fleet_view_shows_both_sites_to_signed_in_staff_and_passes_axe(fleet: Fleet, browser) -> None:
    north = fleet.agents["north"]
    wait_until(lambda: len(fleet.prometheus.query("lobby_agent_info")) == 2, WAIT_S, "both sites in Prometheus")
    # self-signed certificate; bypass_csp only so the test can inject axe-core (the page allows no inline script)
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, ignore_https_errors=True, bypass_csp=True)
    try:
        check_fleet_page(context.new_page(), fleet)
    finally:
        context.close()


def check_fleet_page(page, fleet: Fleet) -> None:
    north = fleet.agents["north"]
    page.goto(f"{north.base_url}/fleet")
    assert page.url.endswith("/desk/login")  # staff only
    page.fill("#username", STAFF[0])
    page.fill("#password", STAFF[1])
    page.click("#sign-in")
    page.wait_for_url(f"{north.base_url}/desk")
    page.goto(f"{north.base_url}/fleet")
    for site_id, name in (("north", "north"), ("south", "south")):
        section = page.locator(f"#site-{site_id}")
        assert section.get_attribute("data-up") == "true"
        assert name in section.locator("h2").inner_text()
    north_site, south_site = page.locator("#site-north"), page.locator("#site-south")
    assert north_site.locator(".checkins-today").inner_text() == "2"
    assert south_site.locator(".checkins-today").inner_text() == "1"
    assert north_site.locator('tr[data-kiosk="north-kiosk-1"]').get_attribute("data-online") == "true"
    assert "paper low" in north_site.locator('tr[data-kiosk="north-kiosk-1"]').inner_text()
    assert south_site.locator('tr[data-kiosk="south-kiosk-1"] .device-chip').inner_text().startswith("Lobby printer")
    text = page.inner_text("body")
    zone = zoneinfo.ZoneInfo("UTC")
    for site in ("north", "south"):
        for appointment in demo_appointments(site, dt.datetime.now(zone).date(), zone):
            assert appointment.family not in text and appointment.birth_date.isoformat() not in text

    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in result["violations"] if v["impact"] in ("serious", "critical")]  # fmt: skip
    assert serious == []
