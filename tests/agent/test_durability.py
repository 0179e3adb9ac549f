"""An answered check-in is durable: it survives SIGKILL. The schedule cache survives a restart with its
source down."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import secrets
import signal

import httpx

from edge_agent.keys import SiteKey
from edge_agent.schedule import DemoSchedule, ScheduleCache
from edge_agent.store import Store

from .helpers import checkin_body, count_rows


def test_every_answered_checkin_survives_sigkill(launch_agent) -> None:
    agent = launch_agent()
    bodies = [checkin_body(appointment_index=None) for _ in range(40)]  # walk-ins: 40 visits

    def submit(body: dict) -> str | None:
        try:
            with httpx.Client(base_url=agent.base_url, timeout=30) as client:
                response = client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": body["checkin_id"]}))
            return body["checkin_id"] if response.status_code == 201 else None
        except httpx.TransportError:
            return None  # cut off by the kill: never answered

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(submit, body) for body in bodies]
        next(concurrent.futures.as_completed(futures)).result()
        agent.stop(signal.SIGKILL)
        answered = [f.result() for f in futures if f.result()]
    assert answered
    for checkin_id in answered:
        assert count_rows(agent.store_path, "arrivals", "checkin_id = ?", (checkin_id,)) == 1
        assert count_rows(agent.store_path, "outbox", "aggregate_id = ?", (checkin_id,)) == 1


class Unreachable:
    async def fetch_schedule(self, day: dt.date) -> list:
        raise ConnectionError("central system down")


def test_schedule_cache_serves_lookups_after_restart_while_source_is_down(tmp_path) -> None:
    key = SiteKey(secrets.token_bytes(32))

    async def scenario() -> None:
        store = Store(tmp_path / "agent.db", key)
        cache = ScheduleCache(store, DemoSchedule("site", "UTC"), "UTC", refresh_s=60)
        assert await cache.refresh()
        store.close()

        store = Store(tmp_path / "agent.db", key)  # restart; the source is now unreachable
        cache = ScheduleCache(store, Unreachable(), "UTC", refresh_s=60)
        assert cache.load_cached() == 18
        assert not await cache.refresh() and "ConnectionError" in cache.last_error
        found = cache.find("garcia", "m", dt.date(1956, 3, 14))
        assert [a.given for a in found] == ["María José"]
        raw = (tmp_path / "agent.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("agent.db-wal"))
        assert "García".encode() not in raw and b"1956-03-14" not in raw  # sealed at rest
        store.close()

    asyncio.run(scenario())
