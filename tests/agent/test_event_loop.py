"""Nothing blocks the agent's event loop: a burst of check-ins from kiosks whose tokens are not cached
yet, while /metrics and /healthz are polled, on a store with a long outbox history (what makes a
synchronous read on the loop long enough to see), with the agent's loop-lag monitor on
(edge_agent/loop_lag.py). With the reads still on the loop this measured 125-230 ms stalls; now ~10 ms."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from edge_agent import loop_lag
from edge_agent.store import connect, migrate

from .helpers import checkin_body
from .launcher import RunningAgent, start_agent

MAX_LAG_S = 0.050
KIOSKS = 4
CHECKINS_PER_KIOSK = 150
POLL_EVERY_S = 0.25
HISTORY_EVENTS = 1_500_000  # a busy clinic after three years: delivered events stay, their payloads purged


def seed_history(db: Path, events: int) -> None:
    """Outbox history as retention leaves it: delivered events whose payloads were purged."""
    db.parent.mkdir(parents=True)
    conn = connect(db)
    migrate(conn)
    with conn:
        conn.execute("BEGIN")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :events)"
            " INSERT INTO outbox(event_type, aggregate_id, patient_key, payload_sealed, status, next_attempt_at,"
            " created_at, delivered_at) SELECT 'checkin.v1', 'history-' || i, printf('patient-%08d', i / 3), x'',"
            " 'delivered', :start + i, :start + i, :start + i + 5 FROM n",
            {"events": events, "start": time.time() - 2 * 365 * 86400},
        )
    conn.close()


def lag_gauge(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(loop_lag.METRIC + " "):
            return float(line.split()[1])
    raise AssertionError(f"{loop_lag.METRIC} missing from /metrics")


def test_the_monitor_sees_a_blocked_loop() -> None:
    async def block_once() -> float:
        monitor = loop_lag.LoopLagMonitor()
        task = asyncio.create_task(monitor.run())
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # what a synchronous SQLite call on the loop does, only longer
        await asyncio.sleep(0.05)
        task.cancel()
        return monitor.max_lag_s

    assert asyncio.run(block_once()) >= 0.15


def test_a_checkin_burst_with_polling_never_stalls_the_loop(tmp_path: Path) -> None:
    seed_history(tmp_path / "agent-data" / "agent.db", HISTORY_EVENTS)
    agent = start_agent(tmp_path, env={loop_lag.ENV_VAR: "1"})
    try:
        _burst_while_polling(agent)
    finally:
        agent.stop()


def _burst_while_polling(agent: RunningAgent) -> None:
    kiosks = {agent.kiosk_id: agent.token} | {f"kiosk-{n}": agent.enroll(f"kiosk-{n}") for n in range(2, KIOSKS + 1)}
    statuses: list[int] = []
    polled: dict[str, list[int]] = {"/metrics": [], "/healthz": []}
    burst_over = threading.Event()

    def kiosk(kiosk_id: str, token: str) -> None:
        with agent.client(headers=agent.headers(token)) as client:
            for _ in range(CHECKINS_PER_KIOSK):
                body = checkin_body(kiosk_id, appointment_index=None)
                response = client.post("/api/v1/checkins", json=body, headers={"Idempotency-Key": body["checkin_id"]})
                statuses.append(response.status_code)

    def poll(path: str) -> None:
        with agent.client() as client:
            while not burst_over.wait(POLL_EVERY_S):
                polled[path].append(client.get(path).status_code)

    pollers = [threading.Thread(target=poll, args=(path,)) for path in polled]
    kiosk_threads = [threading.Thread(target=kiosk, args=item) for item in kiosks.items()]
    for thread in pollers + kiosk_threads:
        thread.start()
    for thread in kiosk_threads:
        thread.join(120)
    burst_over.set()
    for thread in pollers:
        thread.join(30)

    assert statuses == [201] * (KIOSKS * CHECKINS_PER_KIOSK)
    assert polled["/metrics"] and set(polled["/metrics"]) == {200}
    assert polled["/healthz"] and set(polled["/healthz"]) == {200}
    max_lag_s = lag_gauge(httpx.get(f"{agent.base_url}/metrics").text)
    assert 0 < max_lag_s <= MAX_LAG_S, f"the event loop stalled for {max_lag_s * 1000:.0f} ms"
