"""SMART Backend Services end to end: the real agent, the FHIR sandbox requiring tokens, and a real
OAuth 2 authorization server (authlib) that verifies the agent's signed assertions."""

from __future__ import annotations

import time

from edge_agent.central.smart_keys import KeyRing
from edge_agent.config import DEFAULT_SMART_SCOPES

from tests.sandbox import wait_until
from .conftest import Lobby, gate_counts, keygen


def test_checkins_are_delivered_with_one_cached_token(tmp_path, oauth, gated_sandbox, smart_agent):
    jwks = keygen(tmp_path, tmp_path / "smart-keys")
    oauth.register(jwks, DEFAULT_SMART_SCOPES)
    agent = smart_agent()  # token_url empty: discovered from the sandbox's smart-configuration
    lobby = Lobby(gated_sandbox, agent, count=6)
    agent.start()
    wait_until(lambda: agent.health()["schedule_appointments"] == 6, 30, "the schedule pulled with a token")
    for n in range(6):
        lobby.check_in(n)
    lobby.wait_delivered()

    assert lobby.encounters_at_central() == {checkin_id: 1 for checkin_id in lobby.checkin_ids}
    arrived = gated_sandbox.stats()["transactions"]
    assert arrived == 6
    # every search, patch and conditional create passed the gate's scope check, with one token
    counts = gate_counts(gated_sandbox)
    assert counts["unauthorized"] == 0 and counts["forbidden"] == 0 and counts["authorized"] >= 7
    assert oauth.stats()["token_requests"] == 1
    auth = agent.health()["central_auth"]
    assert auth["state"] == "ok" and auth["token_endpoint"] == oauth.token_url
    assert auth["kid"] == jwks["keys"][0]["kid"] and auth["tokens_fetched"] == 1
    assert (tmp_path / "smart-keys" / "working-kid").read_text().strip() == auth["kid"]


def test_an_expired_token_is_replaced_before_use(tmp_path, oauth, gated_sandbox, smart_agent):
    oauth.register(keygen(tmp_path, tmp_path / "smart-keys"), DEFAULT_SMART_SCOPES)
    oauth.control("settings", {"expires_in": 2})
    agent = smart_agent(token_url=oauth.token_url)
    lobby = Lobby(gated_sandbox, agent, count=2)
    agent.start()
    lobby.check_in(0)
    lobby.wait_delivered()
    issued = oauth.stats()["tokens_issued"]
    time.sleep(2.5)  # the token's lifetime (the agent renews it shortly before the end)
    lobby.check_in(1)
    lobby.wait_delivered()

    assert oauth.stats()["tokens_issued"] > issued
    assert gate_counts(gated_sandbox)["unauthorized"] == 0  # renewed before it expired, not after a 401
    assert lobby.encounters_at_central() == {checkin_id: 1 for checkin_id in lobby.checkin_ids}


def test_a_revoked_token_gets_exactly_one_refresh_and_nothing_is_sent_twice(tmp_path, oauth, gated_sandbox, smart_agent):
    oauth.register(keygen(tmp_path, tmp_path / "smart-keys"), DEFAULT_SMART_SCOPES)
    agent = smart_agent(token_url=oauth.token_url)
    lobby = Lobby(gated_sandbox, agent, count=2)
    agent.start()
    lobby.check_in(0)
    lobby.wait_delivered()
    assert oauth.stats()["token_requests"] == 1

    assert oauth.revoke() == 1
    lobby.check_in(1)
    lobby.wait_delivered()

    assert gate_counts(gated_sandbox)["unauthorized"] == 1  # the refused request, retried once with a new token
    assert oauth.stats()["token_requests"] == 2
    assert gated_sandbox.stats()["transactions"] == 2
    assert lobby.encounters_at_central() == {checkin_id: 1 for checkin_id in lobby.checkin_ids}
    assert agent.health()["dead_letters"] == 0


def test_an_unregistered_key_holds_the_checkin_and_health_says_why(tmp_path, oauth, gated_sandbox, smart_agent):
    keygen(tmp_path, tmp_path / "smart-keys")
    other = keygen(tmp_path / "elsewhere", tmp_path / "other-keys")  # the EHR knows a different key
    oauth.register(other, DEFAULT_SMART_SCOPES)
    agent = smart_agent(token_url=oauth.token_url)
    lobby = Lobby(gated_sandbox, agent, count=1)
    agent.start()
    lobby.check_in(0, walk_in=True)  # the agent cannot read the schedule either
    wait_until(lambda: agent.health()["central_auth"]["state"] == "refused", 30, "the token endpoint to refuse")
    health = agent.health()
    assert "invalid_client" in health["central_auth"]["detail"] and "No key for kid" in health["central_auth"]["detail"]
    assert health["outbox_depth"] == 1 and health["dead_letters"] == 0  # a config problem, not the patient's
    assert gate_counts(gated_sandbox)["authorized"] == 0
    refusals = oauth.stats()["refusals"]
    assert refusals and all(r["error"] == "invalid_client" for r in refusals)
    log = agent.all_logs()
    assert "client_assertion" not in log and "eyJ" not in log  # no assertion (a JWT) in the logs
    assert lobby.patients[0]["name"][0]["family"] not in log

    # the administrator registers the agent's JWKS: the held check-in goes out by itself
    oauth.register(KeyRing(tmp_path / "smart-keys").jwks(), DEFAULT_SMART_SCOPES)
    lobby.wait_delivered()
    assert lobby.encounters_at_central() == {lobby.checkin_ids[0]: 1}
    assert agent.health()["central_auth"]["state"] == "ok"


def test_too_narrow_scopes_hold_the_checkin(tmp_path, oauth, gated_sandbox, smart_agent):
    """The EHR grants less than the agent needs: the FHIR server answers 403, nothing is lost."""
    oauth.register(keygen(tmp_path, tmp_path / "smart-keys"), "system/Appointment.rus system/Patient.crus")
    agent = smart_agent(token_url=oauth.token_url)
    lobby = Lobby(gated_sandbox, agent, count=1)
    agent.start()
    lobby.check_in(0, walk_in=True)
    wait_until(lambda: agent.health()["central_auth"]["state"] == "refused", 30, "the scope refusal to show")
    health = agent.health()
    assert "insufficient_scope" in health["central_auth"]["detail"]
    assert health["outbox_depth"] == 1 and health["dead_letters"] == 0
    assert gate_counts(gated_sandbox)["forbidden"] >= 1 and gated_sandbox.stats()["transactions"] == 0
