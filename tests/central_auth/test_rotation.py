"""Key rotation: `central keygen` adds a key beside the old one; the agent tries the newest key and falls
back while the EHR does not know it; `--retire-old` removes keys older than the one that worked."""

from __future__ import annotations

import stat

from edge_agent.config import DEFAULT_SMART_SCOPES

from .conftest import Lobby, keygen

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def test_keygen_writes_private_keys_0600_and_prints_public_keys_only(tmp_path):
    key_dir = tmp_path / "keys"
    first = keygen(tmp_path, key_dir)
    second = keygen(tmp_path, key_dir, "--alg", "RS384")
    assert [k["alg"] for k in second["keys"]] == ["RS384", "ES384"]  # newest first, the old one kept
    assert second["keys"][1]["kid"] == first["keys"][0]["kid"]
    assert len({k["kid"] for k in second["keys"]}) == 2
    for key in second["keys"]:
        assert not PRIVATE_MEMBERS & key.keys() and key["use"] == "sig"
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    files = sorted(key_dir.glob("*.jwk.json"))
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert "d" in files[0].read_text()  # the private part stays in the file


def test_rotation_keeps_the_old_key_until_the_new_one_works(tmp_path, oauth, gated_sandbox, smart_agent):
    key_dir = tmp_path / "smart-keys"
    old = keygen(tmp_path, key_dir)
    old_kid = old["keys"][0]["kid"]
    oauth.register(old, DEFAULT_SMART_SCOPES)
    agent = smart_agent(token_url=oauth.token_url)
    lobby = Lobby(gated_sandbox, agent, count=4)
    agent.start()
    lobby.check_in(0)
    lobby.wait_delivered()
    assert agent.health()["central_auth"]["kid"] == old_kid

    # a new key; the EHR has not got the new JWKS yet: the agent falls back to the old key
    both = keygen(tmp_path, key_dir)
    new_kid = both["keys"][0]["kid"]
    assert {k["kid"] for k in both["keys"]} == {old_kid, new_kid}
    oauth.revoke()
    lobby.check_in(1)
    lobby.wait_delivered()
    assert agent.health()["central_auth"]["kid"] == old_kid
    assert "not registered yet" in agent.running.log_text() and new_kid in agent.running.log_text()
    assert (key_dir / "working-kid").read_text().strip() == old_kid
    keygen(tmp_path, key_dir, "--retire-old")  # nothing is older than the working key: both stay
    assert len(list(key_dir.glob("*.jwk.json"))) == 2

    # the EHR registers old + new: the agent moves to the new key, and the old one can go
    oauth.register(both, DEFAULT_SMART_SCOPES)
    oauth.revoke()
    lobby.check_in(2)
    lobby.wait_delivered()
    assert agent.health()["central_auth"]["kid"] == new_kid
    remaining = keygen(tmp_path, key_dir, "--retire-old")
    assert [k["kid"] for k in remaining["keys"]] == [new_kid]

    oauth.register(remaining, DEFAULT_SMART_SCOPES)  # the EHR drops the old key too
    oauth.revoke()
    lobby.check_in(3)
    lobby.wait_delivered()
    assert lobby.encounters_at_central() == {checkin_id: 1 for checkin_id in lobby.checkin_ids}
    assert agent.health()["dead_letters"] == 0
