"""The kiosk's agent client against real agent processes: pinned TLS, zeroconf discovery, refusals."""

from __future__ import annotations

import pytest

from lobby_core.contract import Heartbeat
from kiosk.agent_client import AgentClient, AgentRefused, AgentUnreachable, discover
from tests.agent.launcher import start_agent, unique_site_id


@pytest.fixture
def launch(tmp_path):
    started = []

    def start(**overrides):
        folder = tmp_path / f"agent{len(started)}"
        folder.mkdir()
        started.append(start_agent(folder, **overrides))
        return started[-1]

    yield start
    for agent in started:
        agent.stop()


def test_https_agent_is_trusted_only_with_its_pinned_certificate(launch):
    agent = launch(agent={"tls": "on"})
    assert agent.base_url.startswith("https://") and agent.fingerprint
    assert AgentClient(agent.base_url, agent.token, agent.fingerprint).board().clinic_name == "Test Clinic"
    with pytest.raises(AgentUnreachable, match="pinned"):
        AgentClient(agent.base_url, agent.token, "ab" * 32).board()
    with pytest.raises(AgentUnreachable, match="fingerprint"):
        AgentClient(agent.base_url, agent.token, "").board()


def advertising(launch, site_id: str, **agent):
    return launch(site={"id": site_id}, agent={"advertise": True, **agent})


def test_zeroconf_finds_its_own_sites_agent_beside_another_and_a_wrong_token_is_refused(launch):
    decoy_site, site_id = unique_site_id("decoy"), unique_site_id()
    decoy = advertising(launch, decoy_site)  # another site's agent (a demo) on the same service type
    assert discover(["127.0.0.1"], decoy_site, timeout_s=15) == decoy.base_url  # it is announced
    agent = advertising(launch, site_id)
    url = discover(["127.0.0.1"], site_id, timeout_s=15)
    assert url == agent.base_url != decoy.base_url
    with pytest.raises(AgentRefused) as refused:
        AgentClient(url, "not-a-token").heartbeat(Heartbeat(kiosk_id="kiosk-1"))
    assert refused.value.status == 401


def test_zeroconf_ignores_an_announcement_without_the_pinned_certificate(launch):
    site_id = unique_site_id()
    agent = advertising(launch, site_id, tls="on")
    assert discover(["127.0.0.1"], site_id, agent.fingerprint.upper(), timeout_s=15) == agent.base_url
    assert discover(["127.0.0.1"], site_id, "ab" * 32, timeout_s=3) is None


def test_plain_http_is_refused_off_loopback():
    with pytest.raises(AgentUnreachable, match="loopback"):
        AgentClient("http://192.0.2.10:8470", "token").board()


def test_nobody_listening_is_unreachable(tmp_path):
    from tests.processes import free_port

    with pytest.raises(AgentUnreachable):
        AgentClient(f"http://127.0.0.1:{free_port()}", "token", timeout_s=2).board()
