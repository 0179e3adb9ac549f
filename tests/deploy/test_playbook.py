"""The Ansible playbooks: syntax, lint, and a real run over two sites into temporary roots."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tools.deploy_rehearsal import ANSIBLE_DIR, DEMO_VAULT_PASSWORD, EXAMPLE_INVENTORY, VENV_BIN, Deployment, ansible_env, build_wheel, example_hosts, snapshot_sources

AGENTS = [host for host in example_hosts() if "-agent" in host]
KIOSKS = [host for host in example_hosts() if "-kiosk-" in host]
MONITORING = [host for host in example_hosts() if host.startswith("monitor.")]
PLAYBOOKS = ["site.yml", "upgrade.yml"]
AGENT_ADDRESSES = {"north": "10.20.0.5:8470", "south": "10.30.0.5:8470"}  # lobby_agent_address in the example
KIOSK_DROP_INS = {
    "etc/pam.d/lobby-kiosk": "pam/lobby-kiosk",
    "etc/udev/rules.d/70-lobby-kiosk.rules": "udev/70-lobby-kiosk.rules",
    "etc/systemd/logind.conf.d/50-lobby-kiosk.conf": "logind/50-lobby-kiosk.conf",
    "etc/systemd/journald.conf.d/50-lobby-checkin.conf": "journald/50-lobby-checkin.conf",
    "etc/tmpfiles.d/lobby-kiosk.conf": "tmpfiles/lobby-kiosk.conf",
}


def check_config(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )


def site_of(host: str) -> str:
    return host.split("-")[0]


def test_example_inventory_has_two_sites_each_with_an_agent_and_kiosks() -> None:
    assert [site_of(host) for host in AGENTS] == ["north", "south"]
    assert {site_of(host) for host in KIOSKS} == {"north", "south"}


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", str(EXAMPLE_INVENTORY),
         "--vault-password-file", str(DEMO_VAULT_PASSWORD), playbook],
        cwd=ANSIBLE_DIR, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_ansible_lint_passes(tmp_path: Path, sources: Path) -> None:
    # ansible-lint keeps a cache in its project folder: lint the snapshot so nothing is written into the repo.
    project = sources / "deploy" / "ansible"
    done = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--offline", "--project-dir", str(project), *PLAYBOOKS],
        cwd=project, env=ansible_env(tmp_path / "home", project), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Passed" in done.stdout + done.stderr


def test_second_run_changes_nothing(deployment: Deployment) -> None:
    first, second = (run.recap() for run in deployment.runs)
    assert set(first) == set(second) == set(example_hosts())
    assert all(counters["changed"] > 0 for counters in first.values())
    assert {host: counters["changed"] for host, counters in second.items()} == dict.fromkeys(example_hosts(), 0)
    assert all(counters["failed"] == 0 for counters in second.values())


@pytest.mark.parametrize("host", AGENTS)
def test_each_site_gets_its_own_agent_config_that_passes_check_config(deployment: Deployment, host: str) -> None:
    root = deployment.root(host)
    site_toml = root / "etc/edge-agent/site.toml"
    done = check_config(site_toml)
    assert done.returncode == 0 and done.stdout.strip() == f"{site_toml}: ok", done.stdout + done.stderr
    site = tomllib.loads(site_toml.read_text())
    assert site["site"]["id"] == site_of(host)
    assert site["agent"]["listen"] == AGENT_ADDRESSES[site_of(host)]  # the LAN address its kiosks use
    assert site["agent"]["data_dir"] == str(root / "var/lib/edge-agent/store")
    assert site["central"]["auth_token"].startswith("demo-")  # from the vault
    assert (root / "var/lib/edge-agent/keys/site.key").stat().st_size == 32
    assert (root / "var/lib/edge-agent/keys/site.key").stat().st_mode & 0o077 == 0
    assert site_toml.stat().st_mode & 0o007 == 0
    assert (root / "etc/systemd/system/edge-agent.service").exists()
    assert (root / "etc/systemd/journald.conf.d/50-lobby-checkin.conf").exists()
    assert (root / "opt/lobby-checkin/current").resolve() == root / f"opt/lobby-checkin/releases/{deployment.wheel.name.split('-')[1]}"


def test_the_two_sites_have_different_keys_and_tokens(deployment: Deployment) -> None:
    north, south = (deployment.root(host) / "var/lib/edge-agent/keys/site.key" for host in AGENTS)
    assert north.read_bytes() != south.read_bytes()


@pytest.mark.parametrize("host", KIOSKS)
def test_each_kiosk_is_enrolled_with_its_own_sites_agent(deployment: Deployment, host: str) -> None:
    root = deployment.root(host)
    kiosk_toml = root / "etc/lobby-kiosk/kiosk.toml"
    done = check_config(kiosk_toml)
    assert done.returncode == 0, done.stdout + done.stderr
    kiosk = tomllib.loads(kiosk_toml.read_text())["kiosk"]
    assert kiosk["id"] == host.split(".")[0]
    assert kiosk["agent_url"] == f"https://{AGENT_ADDRESSES[site_of(host)]}"
    (agent,) = [a for a in AGENTS if site_of(a) == site_of(host)]
    store = deployment.root(agent) / "var/lib/edge-agent/store/agent.db"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        (stored_hash,) = conn.execute("SELECT token_hash FROM kiosks WHERE kiosk_id = ?", (kiosk["id"],)).fetchone()
    assert hashlib.sha256(kiosk["token"].encode()).hexdigest() == stored_hash
    assert len(kiosk["agent_fingerprint"]) == 64  # the agent's TLS certificate, pinned at enrollment
    # The token was never printed by either run.
    assert all(kiosk["token"] not in run.output for run in deployment.runs)
    assert (root / "etc/systemd/system/kiosk-session.service").exists()
    for target, source in KIOSK_DROP_INS.items():
        assert (root / target).read_bytes() == (deployment.sources / "deploy" / source).read_bytes(), target


def test_ticket_prefixes_are_unique_within_a_site(deployment: Deployment) -> None:
    prefixes = {}
    for host in KIOSKS:
        kiosk = tomllib.loads((deployment.root(host) / "etc/lobby-kiosk/kiosk.toml").read_text())["kiosk"]
        prefixes.setdefault(site_of(host), []).append(kiosk["ticket_prefix"])
    assert prefixes == {"north": ["K1", "K2"], "south": ["K1"]}


def test_site_printers_reach_the_right_kiosk(deployment: Deployment) -> None:
    devices = {
        host.split(".")[0]: tomllib.loads((deployment.root(host) / "etc/lobby-kiosk/kiosk.toml").read_text())["kiosk"].get("devices", [])
        for host in KIOSKS
    }
    assert [(d["transport"], d.get("host")) for d in devices["north-kiosk-1"]] == [("tcp", "10.20.0.41")]
    assert [d["transport"] for d in devices["north-kiosk-2"]] == ["usb"]
    assert [(d["transport"], d["port"]) for d in devices["south-kiosk-1"]] == [("serial", "/dev/ttyUSB0")]


def test_failed_upgrade_is_backed_up_rolled_back_and_stops_the_rollout(deployment: Deployment, tmp_path: Path) -> None:
    """upgrade.yml on the south site with a newer wheel whose agent never answers its health check (no
    agent runs in a test root, and the check is pointed at a closed port): the agent is backed up first,
    the new release is installed, the failed check puts the old release back, and the site's kiosk is
    never touched."""
    from tests.processes import free_port

    newer = build_wheel(snapshot_sources(tmp_path / "newer-sources"), tmp_path / "newer", version="0.1.1.dev7")
    agent, kiosk = deployment.root(AGENTS[1]), deployment.root(KIOSKS[-1])
    old_release = (agent / "opt/lobby-checkin/current").resolve()
    run = deployment.playbook(
        "upgrade.yml", "--limit", "site_south",
        extra={
            "lobby_wheel": str(newer), "lobby_version": "0.1.1.dev7",
            "edge_agent_health_check": True, "edge_agent_health_retries": 1,
            "edge_agent_health_url": f"http://127.0.0.1:{free_port()}/healthz",
        },
    )  # fmt: skip
    assert run.returncode != 0, run.output[-3000:]
    assert "failed its health check and was rolled back" in run.output
    assert (agent / "opt/lobby-checkin/releases/0.1.1.dev7/bin/edge-agent").exists()
    assert (agent / "opt/lobby-checkin/current").resolve() == old_release
    assert not (kiosk / "opt/lobby-checkin/releases/0.1.1.dev7").exists()
    (backup,) = (agent / "var/backups/edge-agent").glob("south-before-0.1.1.dev7-*.backup")
    assert backup.read_bytes().startswith(b"LOBBY-CHECKIN-BACKUP/1\n")
    assert b"agent.db" not in backup.read_bytes()  # encrypted, names and all

    # The backup opens with the site's passphrase from the vault and holds the site's enrolled kiosk.
    restored = tmp_path / "restored"
    (restored / "site.toml").parent.mkdir(parents=True)
    (restored / "site.toml").write_text('[site]\nid = "south"\n[agent]\ndata_dir = "store"\n')
    done = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "restore", str(backup), "--config", str(restored / "site.toml")],
        env={**os.environ, "EDGE_AGENT_BACKUP_PASSPHRASE": vault_secrets(tmp_path)["south"]["backup_passphrase"]},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(restored / "store" / "agent.db") as conn:
        assert conn.execute("SELECT kiosk_id FROM kiosks").fetchall() == [("south-kiosk-1",)]
    assert (restored / "store-keys" / "site.key").read_bytes() == (agent / "var/lib/edge-agent/keys/site.key").read_bytes()


def vault_secrets(tmp_path: Path) -> dict:
    done = subprocess.run(
        [str(VENV_BIN / "ansible-vault"), "view", "--vault-password-file", str(DEMO_VAULT_PASSWORD),
         str(EXAMPLE_INVENTORY / "group_vars/all/vault.yml")],
        env=ansible_env(tmp_path / "vault-home"), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return yaml.safe_load(done.stdout)["vault_lobby_sites"]


def test_monitoring_host_scrapes_both_sites_with_their_pinned_certificates_and_tokens(deployment: Deployment) -> None:
    """The rendered file_sd targets list each site's agent address; its job pins that agent's own certificate
    and sends the token the agent's site.toml expects; promtool and amtool accept what was rendered."""
    (monitor,) = MONITORING
    config_dir = deployment.root(monitor) / "etc/prometheus"
    prometheus = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert set(jobs) == {"lobby-north", "lobby-south"}
    for host in AGENTS:
        site = site_of(host)
        job = jobs[f"lobby-{site}"]
        (targets_file,) = job["file_sd_configs"][0]["files"]
        assert json.loads(Path(targets_file).read_text()) == [{"targets": [AGENT_ADDRESSES[site]], "labels": {"site": site}}]
        agent_cert = deployment.root(host) / "var/lib/edge-agent/store/tls/agent.crt"
        assert job["scheme"] == "https"
        assert Path(job["tls_config"]["ca_file"]).read_bytes() == agent_cert.read_bytes()
        agent_token = tomllib.loads((deployment.root(host) / "etc/edge-agent/site.toml").read_text())["agent"]["metrics_token"]
        assert agent_token.startswith(f"demo-metrics-{site}-")  # from the vault
        assert Path(job["authorization"]["credentials_file"]).read_text() == agent_token
        assert all(agent_token not in run.output for run in deployment.runs)
    rules = Path(prometheus["rule_files"][0]).parent / "lobby.rules.yml"
    assert rules.read_bytes() == (deployment.sources / "deploy/monitoring/rules/lobby.rules.yml").read_bytes()
    for command in (["promtool", "check", "config", str(config_dir / "prometheus.yml")],
                    ["amtool", "check-config", str(config_dir / "alertmanager.yml")]):  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_rotations_run_with_their_tags_and_the_next_full_run_accepts_the_rotated_key(deployment: Deployment) -> None:
    """Last in this module: it rotates every agent's key and begins a certificate rotation."""
    run = deployment.playbook("site.yml", "--tags", "rotate-tls,rotate-site-key",
                              extra={"lobby_rotate_tls": True, "lobby_rotate_site_key": True})  # fmt: skip
    assert run.returncode == 0, run.output[-6000:]
    for host in AGENTS:
        state = deployment.root(host) / "var/lib/edge-agent"
        ring = json.loads((state / "keys/site.key").read_bytes())
        assert ring["next"] is None and len(ring["retired"]) == 1
        assert (state / "store/tls/next.crt").exists() and (state / "store/tls/agent.crt").exists()
    again = deployment.playbook("site.yml")
    assert again.returncode == 0, again.output[-6000:]
