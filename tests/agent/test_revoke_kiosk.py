"""`edge-agent revoke-kiosk ID` against a running agent: its token is refused on the very next request
(even though the agent had it cached), the revocation is audited, and re-enrolling gives a new token."""

from __future__ import annotations

import sqlite3

import httpx

from .launcher import RunningAgent, run_cli


def heartbeat(agent: RunningAgent, token: str) -> httpx.Response:
    with agent.client() as client:
        return client.post("/api/v1/kiosks/heartbeat", json={"kiosk_id": agent.kiosk_id}, headers=agent.headers(token))


def test_a_revoked_kiosk_is_refused_at_once_and_re_enrolling_issues_a_new_token(launch_agent) -> None:
    agent = launch_agent()
    old_token = agent.token
    assert heartbeat(agent, old_token).status_code == 204
    assert heartbeat(agent, old_token).status_code == 204  # now answered from the agent's token cache

    revoked = agent.cli("revoke-kiosk", agent.kiosk_id)
    assert agent.kiosk_id in revoked.stdout and "revoked" in revoked.stdout
    refused = heartbeat(agent, old_token)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"

    with sqlite3.connect(f"file:{agent.store_path}?mode=ro", uri=True) as conn:
        entries = conn.execute("SELECT actor, action, subject FROM audit_log WHERE action = 'kiosk.revoke'").fetchall()
    assert entries == [("cli", "kiosk.revoke", agent.kiosk_id)]

    new_token = agent.enroll(agent.kiosk_id)
    assert new_token != old_token
    assert heartbeat(agent, new_token).status_code == 204
    assert heartbeat(agent, old_token).status_code == 401


def test_re_enrolling_a_running_kiosk_retires_its_cached_token_at_once(launch_agent) -> None:
    agent = launch_agent()
    assert heartbeat(agent, agent.token).status_code == 204
    new_token = agent.enroll(agent.kiosk_id)
    assert heartbeat(agent, agent.token).status_code == 401
    assert heartbeat(agent, new_token).status_code == 204


def test_revoking_an_unknown_or_already_revoked_kiosk_says_so(launch_agent) -> None:
    agent = launch_agent()
    unknown = run_cli(agent.config_path, "revoke-kiosk", "kiosk-404", check=False)
    assert unknown.returncode == 2 and "kiosk-404" in unknown.stderr
    agent.cli("revoke-kiosk", agent.kiosk_id)
    again = run_cli(agent.config_path, "revoke-kiosk", agent.kiosk_id, check=False)
    assert again.returncode == 2 and "already revoked" in again.stderr
