"""SIGTERM (what systemd sends on stop and upgrade) during a burst of check-ins loses none: every
check-in that was answered 2xx is in the store when the agent comes back."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.agent.helpers import checkin_body
from tests.agent.launcher import start_agent

KIOSKS = 12
ANSWERED_BEFORE_SIGTERM = 150
BURST_TIMEOUT_S = 120


def test_sigterm_during_a_burst_loses_no_answered_checkin(tmp_path: Path) -> None:
    agent = start_agent(tmp_path)
    answered: list[str] = []
    answered_at: list[float] = []
    refused = []
    lock = threading.Lock()
    enough = threading.Event()

    def kiosk() -> None:
        with httpx.Client(base_url=agent.base_url, timeout=30) as client:
            while True:
                body = checkin_body(appointment_index=None)
                try:
                    response = client.post(
                        "/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": body["checkin_id"]})
                    )
                except httpx.TransportError:
                    return  # the agent has stopped listening
                with lock:
                    if 200 <= response.status_code < 300:
                        answered.append(body["checkin_id"])
                        answered_at.append(time.monotonic())
                    else:
                        refused.append(response.status_code)
                    if len(answered) >= ANSWERED_BEFORE_SIGTERM:
                        enough.set()

    threads = [threading.Thread(target=kiosk, daemon=True) for _ in range(KIOSKS)]
    restarted = None
    try:
        for thread in threads:
            thread.start()
        assert enough.wait(BURST_TIMEOUT_S), f"only {len(answered)} check-ins answered"
        signalled_at = time.monotonic()
        assert agent.stop(signal.SIGTERM, timeout=30) == 0, agent.log_text()[-3000:]
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)

        restarted = start_agent(tmp_path, port=agent.port)  # same folder, same store
        with sqlite3.connect(f"file:{restarted.store_path}?mode=ro", uri=True) as conn:
            stored = {row[0] for row in conn.execute("SELECT checkin_id FROM arrivals")}
            in_outbox = {row[0] for row in conn.execute("SELECT aggregate_id FROM outbox")}
        assert len(answered) >= ANSWERED_BEFORE_SIGTERM
        drained = sum(1 for at in answered_at if at > signalled_at)
        assert drained > 0, "no request was in flight at SIGTERM: the test proved nothing"
        assert set(answered) <= stored, f"{len(set(answered) - stored)} answered check-ins lost"
        assert set(answered) <= in_outbox
        assert 500 not in refused, refused  # a drained request is answered or refused, never half-done
    finally:
        agent.stop()
        if restarted is not None:
            restarted.stop()
