"""The authorization server really verifies what the agent signs, and the agent's discovery and
`check_auth` report configuration problems clearly. Real authlib server, real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from edge_agent.central.credentials import check_auth
from edge_agent.central.smart_keys import KeyRing
from edge_agent.config import DEFAULT_SMART_SCOPES, from_mapping

from tests.agent.launcher import run_cli, site_toml
from .conftest import CLIENT_ID, grant, keygen


def test_the_server_refuses_every_bad_assertion(tmp_path, oauth):
    oauth.register(keygen(tmp_path, tmp_path / "keys"), DEFAULT_SMART_SCOPES)
    key = KeyRing(tmp_path / "keys").keys()[0]
    stranger = KeyRing(tmp_path / "stranger")
    stranger.generate()

    good = grant(oauth, key)
    assert good.status_code == 200 and good.json()["scope"] == "system/Patient.crus"
    jti = str(uuid.uuid4())
    refused = {
        "exp more than 5 minutes ahead": grant(oauth, key, exp=int(time.time()) + 600),
        "expired": grant(oauth, key, exp=int(time.time()) - 120),
        "wrong audience": grant(oauth, key, aud=f"{oauth.url}/other"),
        "iss differs from sub": grant(oauth, key, iss="someone-else"),
        "unregistered key": grant(oauth, stranger.keys()[0]),
        "replayed jti": (grant(oauth, key, jti=jti), grant(oauth, key, jti=jti))[1],
    }
    for what, response in refused.items():
        assert response.status_code in (400, 401), what
        assert response.json()["error"] == "invalid_client", what
    assert "5 minutes" in refused["exp more than 5 minutes ahead"].json()["error_description"]
    assert oauth.stats()["tokens_issued"] == 2  # the good one and the first use of the jti


def smart_config(tmp_path, base_url: str, **central):
    return from_mapping({
        "agent": {"data_dir": str(tmp_path / "data")},
        "central": {"kind": "fhir", "base_url": base_url, "auth": "smart-backend", "client_id": CLIENT_ID,
                    "key_dir": str(tmp_path / "keys"), "timeout_s": 5, **central},
    })  # fmt: skip


def test_check_reports_the_token_endpoint_and_granted_scopes(tmp_path, oauth, gated_sandbox):
    oauth.register(keygen(tmp_path, tmp_path / "keys"), "system/Appointment.rus system/Patient.crus")
    ok, line = asyncio.run(check_auth(smart_config(tmp_path, gated_sandbox.url)))
    assert ok, line
    assert line.startswith(f"SMART backend: token endpoint {oauth.token_url}, got a token")
    assert line.endswith("with scopes system/Appointment.rus system/Patient.crus")


def test_a_server_without_private_key_jwt_is_a_clear_error(tmp_path, oauth, gated_sandbox):
    oauth.register(keygen(tmp_path, tmp_path / "keys"), DEFAULT_SMART_SCOPES)
    oauth.control("settings", {"auth_methods": ["client_secret_basic"]})
    ok, line = asyncio.run(check_auth(smart_config(tmp_path, gated_sandbox.url)))
    assert not ok and "lacks private_key_jwt" in line and "smart-configuration" in line
    assert oauth.stats()["token_requests"] == 0


def test_a_wrong_client_id_is_refused_with_the_reason(tmp_path, oauth, gated_sandbox):
    oauth.register(keygen(tmp_path, tmp_path / "keys"), DEFAULT_SMART_SCOPES)
    ok, line = asyncio.run(check_auth(smart_config(tmp_path, gated_sandbox.url, client_id="not-registered")))
    assert not ok and "invalid_client" in line and "not-registered" in line


@pytest.mark.parametrize("token_url", ["", "http://127.0.0.1:9/token"])
def test_serve_refuses_to_start_without_a_signing_key(tmp_path, token_url):
    config = tmp_path / "site.toml"
    config.write_text(site_toml({
        "agent": {"data_dir": str(tmp_path / "data"), "advertise": False},
        "central": {"kind": "fhir", "base_url": "http://127.0.0.1:9", "auth": "smart-backend", "client_id": CLIENT_ID,
                    "key_dir": str(tmp_path / "empty"), "token_url": token_url},
    }))  # fmt: skip
    result = run_cli(config, "serve", check=False, timeout=60)
    assert result.returncode == 2
    assert "no signing key" in result.stderr and "edge-agent central keygen" in result.stderr
