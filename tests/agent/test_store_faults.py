"""A store that cannot write (issue #13, failure 2): a real full disk and a real competing writer.

The agent's data directory is on a small tmpfs of its own (mounted here, as root). Filling it with an
unbuffered writer (a buffered one would only fail on close) must turn /healthz to 503 within seconds,
make check-ins answer 503 `store_unavailable` with nothing stored, and when space returns the agent
must be healthy again, accept the very check-in it refused, and keep refreshing the schedule. Another
process holding SQLite's write lock must do the same, and the schedule-refresh task must survive the
writes it could not make (before the fix one failed write ended it for the life of the process).
In process: a purge task failing on the lock is logged, counted and restarted by the supervisor, and a
write too large for the full disk fails cleanly and succeeds once space returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from edge_agent import retention
from edge_agent.keys import SiteKey
from edge_agent.store import AGENT_LOCK_WAIT_S, Store
from edge_agent.supervision import Supervisor, WriteProbe, store_error_code
from tests.notify_socket import bind, received
from tests.sandbox import wait_until

from .helpers import checkin_body, count_rows
from .launcher import RunningAgent

TMPFS_SIZE = "8m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of TMPFS_SIZE at tmp_path/disk, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> Path:
    """Write until the file system is full, unbuffered (os.write: ENOSPC on the write itself)."""
    path = folder / "filler"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            block = b"\xa5" * size
            while True:
                try:
                    os.write(descriptor, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(descriptor)
    stats = os.statvfs(folder)
    assert stats.f_bavail * stats.f_frsize < 64 * 1024, "the disk is not full"
    return path


def health(agent: RunningAgent) -> httpx.Response:
    return httpx.get(f"{agent.base_url}/healthz", timeout=10)


def post_checkin(agent: RunningAgent, body: dict, key: str) -> httpx.Response:
    with agent.client() as client:
        return client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": key}))


def stored(db: Path) -> dict[str, int]:
    return {table: count_rows(db, table) for table in ("arrivals", "outbox", "idempotency")}


@pytest.fixture
def agent_on_small_disk(launch_agent, small_disk: Path, tmp_path: Path) -> tuple[RunningAgent, Path]:
    data_dir = small_disk / "data"
    agent = launch_agent(agent={"data_dir": str(data_dir), "key_file": str(tmp_path / "keys" / "site.key")},
                         schedule={"refresh_s": 5})  # fmt: skip
    return agent, data_dir / "agent.db"


def test_a_full_disk_turns_health_to_503_refuses_checkins_cleanly_and_recovers(agent_on_small_disk, small_disk) -> None:
    agent, db = agent_on_small_disk
    assert health(agent).status_code == 200
    assert post_checkin(agent, checkin_body(appointment_index=None), str(uuid.uuid4())).status_code == 201
    before = stored(db)

    filler = fill(small_disk)
    wait_until(lambda: health(agent).status_code == 503, 20, "/healthz to report the full disk")
    answer = health(agent).json()
    assert answer["status"] == "failing" and answer["store"] == "ok" and answer["store_write"] == "failing"
    assert "store-write:disk_full" in answer["problems"]

    refused_body, refused_key = checkin_body(appointment_index=None), str(uuid.uuid4())
    refused = post_checkin(agent, refused_body, refused_key)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "store_unavailable" and int(refused.headers["retry-after"]) > 0
    assert stored(db) == before  # nothing half-stored

    filler.unlink()  # space returns
    space_back = time.time()
    wait_until(lambda: health(agent).status_code == 200, 30, "/healthz to be ok again")
    assert health(agent).json()["store_write"] == "ok" and health(agent).json()["problems"] == []
    accepted = post_checkin(agent, refused_body, refused_key)  # the kiosk's spool sends it again
    assert accepted.status_code == 201, accepted.text  # stored now, not a replay of something half-kept
    assert stored(db) == {table: count + 1 for table, count in before.items()}
    wait_until(lambda: (health(agent).json()["schedule_refreshed_at"] or 0) > space_back, 30, "a schedule refresh")
    assert "background task failed" not in agent.log_text()
    assert "García" not in agent.log_text() and "1956" not in agent.log_text()


def test_a_competing_writer_holding_the_lock_fails_health_and_checkins_and_the_refresh_survives(agent_on_small_disk) -> None:
    agent, db = agent_on_small_disk
    before = stored(db)
    other = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction, held
        held_at = time.time()
        wait_until(lambda: health(agent).status_code == 503, 30, "/healthz to report the held lock")
        problems = health(agent).json()["problems"]
        assert any(p in problems for p in ("store-write:locked", "store-write:timeout")), problems
        started = time.monotonic()
        refused = post_checkin(agent, checkin_body(appointment_index=None), str(uuid.uuid4()))
        waited = time.monotonic() - started
        assert refused.status_code == 503 and refused.json()["error"] == "store_unavailable", refused.text
        assert waited < 5.0  # answered before the kiosk's 5 s timeout: it spools instead of hanging
        # Hold it long enough that at least two schedule refreshes (every 5 s) fail to store.
        time.sleep(max(0.0, held_at + 12 - time.time()))
    finally:
        other.execute("ROLLBACK")
        other.close()
    released = time.time()
    assert stored(db) == before  # nothing half-stored
    wait_until(lambda: health(agent).status_code == 200, 30, "/healthz to be ok again")
    assert post_checkin(agent, checkin_body(appointment_index=None), str(uuid.uuid4())).status_code == 201
    # The refresh task lived through the writes it could not make, and stores again.
    wait_until(lambda: (health(agent).json()["schedule_refreshed_at"] or 0) > released, 30, "a schedule refresh")
    assert "schedule refresh not stored" in agent.log_text()
    assert "background task failed" not in agent.log_text()


def test_the_systemd_watchdog_is_withheld_while_the_store_cannot_write(launch_agent, tmp_path: Path) -> None:
    """The watchdog asked reads only, so a store that could not write was fed as healthy for ever."""
    path = tmp_path / "notify"
    sock = bind(path, 15)
    try:
        agent = launch_agent(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})  # a ping every 1 s
        messages: list[str] = []
        while messages.count("WATCHDOG=1") < 2:
            messages.append(sock.recv(4096).decode())
        db = agent.store_path
        other = sqlite3.connect(db, isolation_level=None, timeout=30)
        try:
            other.execute("BEGIN IMMEDIATE")
            wait_until(lambda: health(agent).status_code == 503, 30, "/healthz to report the held lock")
            time.sleep(1.5)  # a ping decided before the probe failed may still be on its way
            received(sock)
            time.sleep(4)
            assert "WATCHDOG=1" not in received(sock)  # systemd restarts the unit after WatchdogSec
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert sock.recv(4096).decode() == "WATCHDOG=1"  # fed again once the store writes
    finally:
        sock.close()


# --- in process: the supervisor and the store itself -------------------------------------------------


def test_a_purge_failing_on_a_held_lock_is_counted_restarted_and_recovers(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db", SiteKey.load_or_create(tmp_path / "site.key"), lock_wait_s=AGENT_LOCK_WAIT_S)
    registry = CollectorRegistry()
    failures = Counter("lobby_background_task_failures", "", ["task"], registry=registry)

    async def scenario() -> None:
        supervisor = Supervisor(failures=failures, backoff_start_s=0.2)
        other = sqlite3.connect(tmp_path / "agent.db", isolation_level=None, timeout=30)
        other.execute("BEGIN IMMEDIATE")
        try:
            supervisor.spawn("retention", lambda: retention.keep_purging(
                store, 30, lambda: "2026-01-05", every_s=3600, beat=supervisor.beater("retention")),
                stale_after_s=7200)  # fmt: skip
            deadline = time.monotonic() + 20
            while registry.get_sample_value("lobby_background_task_failures_total", {"task": "retention"}) is None:
                assert time.monotonic() < deadline, "the purge never failed"
                await asyncio.sleep(0.1)
            assert supervisor.problems() == ["retention:failing"]
            assert not supervisor.alive("retention")
        finally:
            other.execute("ROLLBACK")
            other.close()
        deadline = time.monotonic() + 20
        while supervisor.problems():
            assert time.monotonic() < deadline, supervisor.problems()
            await asyncio.sleep(0.1)
        assert supervisor.alive("retention")
        assert store.get_meta("retention_purged_at") is not None  # the restarted purge did its work
        for task in supervisor.tasks:
            task.cancel()
        await asyncio.gather(*supervisor.tasks, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def test_the_store_fails_a_write_on_a_full_disk_cleanly_and_takes_it_once_space_returns(small_disk: Path, tmp_path: Path) -> None:
    store = Store(small_disk / "agent.db", SiteKey.load_or_create(tmp_path / "site.key"))
    big = os.urandom(1_000_000)  # 2 MB as hex: more than the WAL holds, so SQLite must allocate, and cannot

    def write_big(conn: sqlite3.Connection) -> None:
        store.set_meta(conn, "big", big.hex())

    try:
        filler = fill(small_disk)
        with pytest.raises(sqlite3.OperationalError) as failed:
            store.write_sync(write_big)
        assert store_error_code(failed.value) == "disk_full", (failed.value, failed.value.sqlite_errorname)
        assert store.get_meta("big") is None
        probe = WriteProbe(store, small_disk)
        assert not asyncio.run(probe.check()) and probe.disk_full and not probe.healthy
        filler.unlink()
        store.write_sync(write_big)  # the writer thread survived and the connection works
        assert store.get_meta("big") == big.hex()
        assert asyncio.run(probe.check()) and probe.healthy
    finally:
        with contextlib.suppress(Exception):
            store.close()
