"""Fixtures for the front-desk tests: a real agent process (edge-agent serve) with staff accounts and an
enrolled kiosk made through the real CLI, a kiosk-API client, and one headless Chromium per session."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import uuid
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from lobby_core.appointments import ScheduledAppointment
from edge_agent.schedule import demo_appointments
from tests.processes import free_port, stop_process
from tests.sandbox import Sandbox, wait_until
from tools.central_seed import day_schedule

from .a11y_results import pytest_configure, pytest_runtest_makereport, pytest_sessionfinish  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
SITE_ID = "desk-test"
TIMEZONE = "UTC"
FRONT_DESK = ("frontdesk", "demo-frontdesk")
ADMIN = ("admin", "demo-admin-pass")
KIOSK_ID = "kiosk-1"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


def edge_agent_cli(*args: str, config: Path, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", *args, "--config", str(config)],
        cwd=REPO, input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass
class AgentProcess:
    """`edge-agent serve` on a loopback port, restartable on the same data."""

    root: Path
    central_url: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    token: str = ""
    top_level: str = ""  # TOML keys before the first table, e.g. 'translations_dir = "..."'

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.root / "site.toml"

    @property
    def database(self) -> Path:
        return self.root / "data" / "agent.db"

    def prepare(self) -> None:
        central = (
            f'[central]\nkind = "fhir"\nbase_url = "{self.central_url}"\ntimeout_s = 5\n[schedule]\nsource = "central"\nscope = "whole-server"\n'
            if self.central_url
            else ""
        )
        self.config.write_text(
            f'{self.top_level}[site]\nid = "{SITE_ID}"\nname = "Riverside Family Clinic"\ntimezone = "{TIMEZONE}"\n'
            f'[agent]\nlisten = "127.0.0.1:{self.port}"\ndata_dir = "data"\nadvertise = false\n'
            f"lookup_rate_per_minute = 600\n"
            f"[desk]\nsignin_free_attempts = 3\nsignin_backoff_s = 1\nsignin_summary_s = 1\nsession_idle_minutes = 5\n"
            f"{central}"
        )
        for (username, password), role in ((FRONT_DESK, "front_desk"), (ADMIN, "admin")):
            edge_agent_cli("add-staff", username, "--role", role, "--password-stdin", config=self.config,
                           stdin=password + "\n")
        enrolled = edge_agent_cli("enroll-kiosk", KIOSK_ID, config=self.config)
        self.token = re.search(r'^token = "([^"]+)"', enrolled, re.M).group(1)

    def start(self) -> None:
        log = (self.root / "agent.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge_agent.cli", "serve", "--config", str(self.config)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        wait_until(self._ready, 60, "the agent to answer /healthz")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"agent exited: {(self.root / 'agent.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=15)
        self.process = None


def today_appointments() -> list[ScheduledAppointment]:
    zone = zoneinfo.ZoneInfo(TIMEZONE)
    return demo_appointments(SITE_ID, dt.datetime.now(zone).date(), zone)


class Kiosk:
    """The kiosk side of the API, as a real kiosk speaks it (bearer token, idempotency key)."""

    def __init__(self, agent: AgentProcess):
        self.agent = agent
        self.http = httpx.Client(base_url=agent.url, headers={"Authorization": f"Bearer {agent.token}"}, timeout=30)

    def check_in(self, appointment: ScheduledAppointment, checkin_id: str | None = None, **extra) -> dict:
        checkin_id = checkin_id or str(uuid.uuid4())
        body = {
            "checkin_id": checkin_id, "kiosk_id": KIOSK_ID, "appointment_id": appointment.appointment_id,
            "identity_source": "manual",
            "patient": {"family": appointment.family, "given": appointment.given,
                        "birth_date": appointment.birth_date.isoformat()},
            **extra,
        }  # fmt: skip
        response = self.http.post("/api/v1/checkins", json=body, headers={"Idempotency-Key": checkin_id})
        assert response.status_code == 201, response.text
        return response.json()

    def heartbeat(self, devices: list[dict]) -> None:
        response = self.http.post("/api/v1/kiosks/heartbeat", json={"kiosk_id": KIOSK_ID, "devices": devices})
        assert response.status_code == 204, response.text

    def ask_for_help(self) -> None:
        response = self.http.post("/api/v1/help", json={"kiosk_id": KIOSK_ID, "screen": "review"})
        assert response.status_code == 202, response.text

    def close(self) -> None:
        self.http.close()


class Staff:
    """A signed-in browser-less staff client: the sign-in form, then the API with the CSRF token."""

    def __init__(self, agent: AgentProcess, username: str, password: str):
        self.http = httpx.Client(base_url=agent.url, timeout=30, follow_redirects=False, headers={"Origin": agent.url})
        sign_in(self.http, username, password)
        self.csrf = self.http.get("/api/v1/desk/session").json()["csrf_token"]

    def post(self, path: str, json: dict | None = None) -> httpx.Response:
        return self.http.post(path, json=json, headers={"X-CSRF-Token": self.csrf})

    def close(self) -> None:
        self.http.close()


def sign_in(http: httpx.Client, username: str, password: str) -> httpx.Response:
    page = http.get("/desk/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"username": username, "password": password, "csrf_token": csrf}
    return http.post("/desk/login", data=form, headers={"Origin": str(http.base_url).rstrip("/")})  # as a browser does


@pytest.fixture(scope="module")
def agent(tmp_path_factory) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path_factory.mktemp("desk-agent"))
    process.prepare()
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def kiosk(agent: AgentProcess) -> Iterator[Kiosk]:
    client = Kiosk(agent)
    yield client
    client.close()


@pytest.fixture
def front_desk(agent: AgentProcess) -> Iterator[Staff]:
    client = Staff(agent, *FRONT_DESK)
    yield client
    client.close()


@pytest.fixture
def admin(agent: AgentProcess) -> Iterator[Staff]:
    client = Staff(agent, *ADMIN)
    yield client
    client.close()


# Package scope, not session: Playwright's sync API keeps an event loop running on the main thread
# while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh browser contexts (own cookies), closed after the test."""
    contexts = []

    def open_page(width: int = 1600, height: int = 1000, *, bypass_csp: bool = False):
        # bypass_csp: axe-core is injected as an inline script, which the pages' CSP refuses.
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US", bypass_csp=bypass_csp)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def signed_in_page(new_page, agent: AgentProcess, username: str, password: str, **page_options):
    page = new_page(**page_options)
    page.goto(f"{agent.url}/desk/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in")
    page.wait_for_url(f"{agent.url}/desk")
    page.wait_for_selector('#live[data-state="live"]', timeout=15000)
    return page




CENTRAL_APPOINTMENTS = 3


def central_schedule() -> list[dict]:
    """Today's appointments at the central system of `central_agent` (FHIR resources)."""
    return day_schedule(dt.datetime.now(dt.UTC).date(), CENTRAL_APPOINTMENTS)


@pytest.fixture
def central_agent(tmp_path):
    """An agent delivering to the FHIR sandbox (tools/fhir_sandbox), seeded with `central_schedule()`."""
    sandbox = Sandbox(tmp_path / "central.sqlite", tmp_path / "sandbox.log")
    sandbox.start()
    sandbox.seed(central_schedule())
    process = AgentProcess(tmp_path / "agent", central_url=sandbox.url)
    process.root.mkdir()
    try:
        process.prepare()
        process.start()
        yield process, sandbox
    finally:
        process.stop()
        sandbox.stop()


# --- dashboard pages in the browser tests ---------------------------------------------------------------

PRINTERS = [  # a kiosk's two printers, for the Reprint choice
    {"name": "receipt", "kind": "receipt_printer", "state": "online"},
    {"name": "wristband", "kind": "label_printer", "state": "online"},
]


def row(page, checkin_id: str):
    return page.locator(f'tr[data-checkin-id="{checkin_id}"]')


def wait_status(page, checkin_id: str, status: str) -> None:
    page.wait_for_selector(f'tr[data-checkin-id="{checkin_id}"][data-status="{status}"]', timeout=10000)
