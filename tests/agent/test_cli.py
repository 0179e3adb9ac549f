"""`edge-agent enroll-kiosk` and `status` without a running agent."""

from __future__ import annotations

from .launcher import parse_enrollment, run_cli, site_toml


def write_site(tmp_path) -> object:
    path = tmp_path / "site.toml"
    path.write_text(site_toml({"site": {"id": "cli-site"}, "agent": {"data_dir": str(tmp_path / "data"), "listen": "127.0.0.1:18999"}}))
    return path


def test_enroll_prints_a_new_token_each_time_and_keeps_only_its_hash(tmp_path) -> None:
    config = write_site(tmp_path)
    first = parse_enrollment(run_cli(config, "enroll-kiosk", "kiosk-7").stdout)
    second = parse_enrollment(run_cli(config, "enroll-kiosk", "kiosk-7").stdout)
    assert first["id"] == "kiosk-7" and first["agent_url"] == "http://127.0.0.1:18999"
    assert first["agent_fingerprint"] == ""  # loopback: plain HTTP
    assert len(first["token"]) >= 40 and first["token"] != second["token"]
    database = b"".join(path.read_bytes() for path in (tmp_path / "data").glob("agent.db*"))
    assert first["token"].encode() not in database and second["token"].encode() not in database


def test_enroll_refuses_a_bad_kiosk_id(tmp_path) -> None:
    result = run_cli(write_site(tmp_path), "enroll-kiosk", "bad id!", check=False)
    assert result.returncode == 2 and "kiosk id" in result.stderr


def test_status_without_a_database_says_so(tmp_path) -> None:
    result = run_cli(write_site(tmp_path), "status", check=False)
    assert result.returncode == 1 and "no agent database" in result.stdout
