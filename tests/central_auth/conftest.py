"""Fixtures for the central authentication tests: a real OAuth 2 authorization server (authlib, in
tools/oauth_server.py), the FHIR sandbox requiring its tokens, and the real agent process."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
from joserfc import jwt

from edge_agent.central.smart_auth import ASSERTION_TYPE

from tests.agent.launcher import run_cli, site_toml
from tests.processes import free_port, stop_process
from tests.sandbox import REPO, Sandbox, wait_until
from tests.sync.conftest import IDENTIFIER_SYSTEM, CentralAgent, agent_factory  # noqa: F401 - a fixture
from tools.central_seed import day_schedule

CLIENT_ID = "lobby-agent-test"
INTROSPECTION_SECRET = secrets.token_urlsafe(16)


class OAuthServer:
    """tools/oauth_server.py as a real uvicorn process."""

    def __init__(self, log: Path):
        self.log = log
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.oauth_server", "--port", str(self.port), "--introspection-secret", INTROSPECTION_SECRET],
            cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._ready, 30, "the OAuth server to answer")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"oauth server exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/.well-known/oauth-authorization-server", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def control(self, path: str, body: dict | None = None) -> dict:
        if body is None:
            response = httpx.get(f"{self.url}/_control/{path}", timeout=10)
        else:
            response = httpx.post(f"{self.url}/_control/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def register(self, jwks: dict, scope: str, client_id: str = CLIENT_ID) -> None:
        self.control("clients", {"client_id": client_id, "jwks": jwks, "scope": scope})

    def revoke(self, client_id: str = CLIENT_ID) -> int:
        return self.control("revoke", {"client_id": client_id})["revoked"]

    def stats(self) -> dict:
        return self.control("stats")

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


@pytest.fixture
def oauth(tmp_path: Path) -> Iterator[OAuthServer]:
    server = OAuthServer(tmp_path / "oauth.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gated_sandbox(tmp_path: Path, oauth: OAuthServer) -> Iterator[Sandbox]:
    """The FHIR sandbox in its auth mode: every FHIR request needs an active token with the right scopes."""
    server = Sandbox(
        tmp_path / "central.sqlite", tmp_path / "sandbox.log",
        args=("--auth-server", oauth.url, "--auth-secret", INTROSPECTION_SECRET),
    )  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.stop()


def gate_counts(sandbox: Sandbox) -> dict:
    return httpx.get(f"{sandbox.url}/_control/auth", timeout=10).json()


def keygen(folder: Path, key_dir: Path, *args: str) -> dict:
    """`edge-agent central keygen` on a site file naming `key_dir`; returns the printed JWKS."""
    config = folder / "keygen.toml"
    folder.mkdir(parents=True, exist_ok=True)
    config.write_text(site_toml({"central": {"kind": "fhir", "base_url": "http://127.0.0.1:9", "auth": "smart-backend",
                                             "client_id": CLIENT_ID, "key_dir": str(key_dir)}}))  # fmt: skip
    return json.loads(run_cli(config, "central", "keygen", *args).stdout)


def grant(oauth, key, scope: str = "system/Patient.crus", **claims) -> httpx.Response:
    """A client-credentials grant with an assertion signed by `key` (a SigningKey); `claims` override."""
    now = int(time.time())
    body = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": oauth.token_url, "jti": str(uuid.uuid4()), "iat": now,
            "exp": now + 120, **claims}  # fmt: skip
    assertion = jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "JWT"}, body, key.key, algorithms=[key.alg])
    form = {"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion}  # fmt: skip
    return httpx.post(oauth.token_url, data=form, timeout=10)


def checkin_request(patient: dict, appointment_id: str | None) -> dict:
    return {
        "checkin_id": str(uuid.uuid4()),
        "kiosk_id": "kiosk-1",
        "appointment_id": appointment_id,
        "identity_source": "aamva",
        "patient": {
            "family": patient["name"][0]["family"], "given": patient["name"][0]["given"][0],
            "birth_date": patient["birthDate"],
        },
        "coverage": {"payor": "Acme Health", "member_id": "M7654321", "group": "G-1", "source": "card"},
        "answers": [{"link_id": "fever", "text": "Fever?", "value": False}],
    }  # fmt: skip


class Lobby:
    """Today's schedule at central and the real agent checking patients in against it."""

    def __init__(self, sandbox: Sandbox, agent: CentralAgent, count: int):
        self.sandbox, self.agent = sandbox, agent
        resources = day_schedule(dt.datetime.now(dt.timezone.utc).date(), count)
        sandbox.control("POST", "seed", json={"resources": resources})
        self.patients = [r for r in resources if r["resourceType"] == "Patient"]
        self.checkin_ids: list[str] = []

    def check_in(self, n: int, *, walk_in: bool = False) -> str:
        """Patient n checks in for their appointment; `walk_in`: without one, as at a kiosk whose agent could
        not read today's schedule from central (it refuses a check-in naming an appointment it does not know)."""
        body = checkin_request(self.patients[n], None if walk_in else f"appt-{n}")
        response = self.agent.post("checkins", body, **{"Idempotency-Key": body["checkin_id"]})
        assert response.status_code == 201, response.text
        self.checkin_ids.append(body["checkin_id"])
        return body["checkin_id"]

    def wait_delivered(self, timeout: float = 30) -> None:
        wait_until(lambda: self.agent.health()["outbox_depth"] == 0, timeout, "the outbox to drain")

    def encounters_at_central(self) -> dict[str, int]:
        return self.sandbox.identifier_counts("Encounter", f"{IDENTIFIER_SYSTEM}/checkin")


@pytest.fixture
def smart_agent(tmp_path: Path, gated_sandbox: Sandbox, agent_factory) -> Callable[..., CentralAgent]:
    """An agent set up for SMART Backend Services against the gated sandbox (keys in tmp/smart-keys)."""

    def make(**central) -> CentralAgent:
        settings = {"auth": "smart-backend", "client_id": CLIENT_ID, "key_dir": str(tmp_path / "smart-keys"), **central}
        agent = agent_factory(gated_sandbox.url, **settings)
        agent.settings["schedule"] = {"source": "central", "refresh_s": 3600, "scope": "whole-server"}  # no background token use
        return agent

    return make
