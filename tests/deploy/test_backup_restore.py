"""Backup and recovery: a live agent is backed up mid-outage, restored onto a fresh data folder, and the
restored agent delivers what was still queued, exactly once as counted at the FHIR sandbox."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from edge_agent import backup
from edge_agent.config import from_mapping
from edge_agent.keys import SiteKey
from edge_agent.store import Store
from tests.agent.launcher import REPO, RunningAgent, site_toml, start_agent
from tests.processes import free_port
from tests.sandbox import Sandbox, wait_until
from tests.sync.conftest import IDENTIFIER_SYSTEM
from tests.sync.test_crash import checkin_request
from tools.central_seed import day_schedule

DELIVERED_FIRST, QUEUED_AT_BACKUP = 6, 9
PASSPHRASE = "correct horse battery staple"


def agent_sections(folder: Path, port: int, central_url: str) -> dict:
    """The site-file sections `start_agent` writes for `folder`, with the FHIR sandbox as central."""
    return {
        "site": {"id": "test-site", "name": "Test Clinic", "timezone": "UTC"},
        "agent": {"listen": f"127.0.0.1:{port}", "data_dir": str(folder / "agent-data"), "advertise": False},
        "central": {"kind": "fhir", "base_url": central_url, "timeout_s": 2.0, "max_backoff_s": 1.0,
                    "identifier_system": IDENTIFIER_SYSTEM},
        "schedule": {"source": "central", "refresh_s": 5, "scope": "whole-server"},
    }  # fmt: skip


def launch(folder: Path, port: int, central_url: str) -> RunningAgent:
    sections = agent_sections(folder, port, central_url)
    return start_agent(folder, port=port, **{name: sections[name] for name in ("site", "agent", "central", "schedule")})


def health(agent: RunningAgent) -> dict:
    return httpx.get(f"{agent.base_url}/healthz", timeout=10).json()


def edge_agent_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "EDGE_AGENT_BACKUP_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip



def test_restore_on_a_new_box_delivers_the_remaining_outbox_exactly_once(tmp_path: Path, sandbox: Sandbox) -> None:
    total = DELIVERED_FIRST + QUEUED_AT_BACKUP
    resources = day_schedule(dt.datetime.now(dt.timezone.utc).date(), total)
    sandbox.seed(resources)
    patients = [r for r in resources if r["resourceType"] == "Patient"]

    old_box, port = tmp_path / "old-box", free_port()
    agent = launch(old_box, port, sandbox.url)
    new_agent = None
    try:
        wait_until(lambda: health(agent)["schedule_appointments"] == total, 60, "today's schedule from central")

        def check_in(n: int) -> str:
            body = checkin_request(patients[n], f"appt-{n}")
            with agent.client() as client:
                answer = client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": body["checkin_id"]}))
            assert answer.status_code == 201, answer.text
            return body["checkin_id"]

        delivered = [check_in(n) for n in range(DELIVERED_FIRST)]
        wait_until(lambda: health(agent)["outbox_depth"] == 0, 60, "the first check-ins to reach central")

        sandbox.stop()  # central goes away; the rest waits in the outbox
        queued = [check_in(n) for n in range(DELIVERED_FIRST, total)]
        assert health(agent)["outbox_depth"] == QUEUED_AT_BACKUP

        backup_file = tmp_path / "site.backup"
        done = edge_agent_cli("backup", str(backup_file), "--config", str(agent.config_path))  # online: agent running
        assert done.returncode == 0, done.stderr
        assert f"{QUEUED_AT_BACKUP} pending" in done.stdout
        assert agent.stop() == 0

        # A new box: empty data folder, same site file; restore, then start the agent there.
        new_box = tmp_path / "new-box"
        new_box.mkdir()
        new_port = free_port()
        (new_box / "site.toml").write_text(site_toml(agent_sections(new_box, new_port, sandbox.url)))
        done = edge_agent_cli("restore", str(backup_file), "--config", str(new_box / "site.toml"))
        assert done.returncode == 0, done.stderr
        sandbox.start()
        new_agent = launch(new_box, new_port, sandbox.url)
        wait_until(lambda: health(new_agent)["outbox_depth"] == 0, 90, "the restored outbox to drain")

        counts = sandbox.identifier_counts("Encounter", f"{IDENTIFIER_SYSTEM}/checkin")
        assert counts == {checkin_id: 1 for checkin_id in delivered + queued}
        assert health(new_agent)["dead_letters"] == 0
    finally:
        agent.stop()
        if new_agent is not None:
            new_agent.stop()


@pytest.fixture
def site(tmp_path: Path):
    config = from_mapping({"site": {"id": "north"}, "agent": {"data_dir": str(tmp_path / "store")}})
    store = Store(config.store_path, SiteKey.load_or_create(config.key_file))
    store.write_sync(lambda conn: store.enqueue(conn, "checkin.v1", "c-1", "p-1", {"checkin": {"checkin_id": "c-1"}}))
    store.close()
    return config


def test_wrong_passphrase_and_tampering_are_refused(site, tmp_path: Path) -> None:
    path = tmp_path / "b.backup"
    backup.create(site, path, PASSPHRASE)
    fresh = from_mapping({"site": {"id": "north"}, "agent": {"data_dir": str(tmp_path / "fresh")}})
    with pytest.raises(backup.BackupError, match="wrong passphrase"):
        backup.restore(fresh, path, "not it")
    data = bytearray(path.read_bytes())
    data[data.index(b'"n": ') + 5] ^= 0x01  # the KDF cost in the header: authenticated as associated data
    path.write_bytes(bytes(data))
    with pytest.raises(backup.BackupError):
        backup.restore(fresh, path, PASSPHRASE)
    assert not fresh.store_path.exists() and not fresh.key_file.exists()


def test_restore_refuses_a_live_store_or_another_site_unless_forced(site, tmp_path: Path) -> None:
    path = tmp_path / "b.backup"
    manifest = backup.create(site, path, PASSPHRASE)
    assert (manifest.site_id, manifest.outbox_pending) == ("north", 1)
    with pytest.raises(backup.BackupError, match="--force"):
        backup.restore(site, path, PASSPHRASE)
    other = from_mapping({"site": {"id": "south"}, "agent": {"data_dir": str(tmp_path / "other")}})
    with pytest.raises(backup.BackupError, match="site 'north'"):
        backup.restore(other, path, PASSPHRASE)
    backup.restore(site, path, PASSPHRASE, force=True)
    store = Store(site.store_path, SiteKey.load_or_create(site.key_file))
    try:
        assert [item.aggregate_id for item in store.outbox_due(10)] == ["c-1"]  # readable with the restored key
    finally:
        store.close()


def test_backup_without_passphrase_or_store_says_why(tmp_path: Path) -> None:
    empty = from_mapping({"agent": {"data_dir": str(tmp_path / "none")}})
    with pytest.raises(backup.BackupError, match="empty passphrase"):
        backup.create(empty, tmp_path / "x", "")
    with pytest.raises(backup.BackupError, match="no store"):
        backup.create(empty, tmp_path / "x", PASSPHRASE)
