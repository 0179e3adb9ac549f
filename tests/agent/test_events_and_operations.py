"""Board SSE resume, health, metrics, PHI-free logs, the status CLI, graceful stop, zeroconf, TLS."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import ssl
import time
import uuid

import httpx
from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from lobby_core.contract import SERVICE_TYPE

from .helpers import checkin_body, count_rows
from .launcher import unique_site_id
from .sse import read_events


def checkin(agent, **overrides) -> dict:
    with agent.client() as client:
        response = client.post("/api/v1/checkins", json=checkin_body(**{"appointment_index": None, **overrides}),
                               headers=agent.headers(**{"Idempotency-Key": str(uuid.uuid4())}))  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def board_events(agent, until, last_event_id: str | None = None, during=None, most: int = 10) -> list:
    """Board events from one connection, until `until(event)` holds (at most `most` events)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events = []
    with httpx.Client(base_url=agent.base_url, timeout=httpx.Timeout(30, read=20)) as client:
        with client.stream("GET", "/api/v1/board/events", headers=headers) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            if during:
                during()
            for event in read_events(response):
                events.append(event)
                if until(event) or len(events) >= most:
                    break
    return events


def waiting(*numbers: int):
    return lambda event: event.data.get("waiting") == [f"A-{n:03d}" for n in numbers]


def assert_consecutive(events: list, after: str) -> None:
    """Each event's id follows the previous one's: nothing was lost or repeated in between."""
    assert [int(e.id) for e in events] == list(range(int(after) + 1, int(after) + 1 + len(events)))


def test_board_stream_resumes_after_last_event_id_without_loss_or_repeats(launch_agent) -> None:
    agent = launch_agent()
    first = board_events(agent, waiting(1), during=lambda: checkin(agent))
    assert first[0].event == "board"  # a new client starts from a snapshot of the present
    assert first[-1].data["waiting"] == ["A-001"]
    assert_consecutive(first[1:], first[0].id)
    for _ in range(3):  # while no client is connected
        checkin(agent)
        time.sleep(0.3)
    resumed = board_events(agent, waiting(1, 2, 3, 4), last_event_id=first[-1].id)
    assert resumed[-1].data["waiting"] == ["A-001", "A-002", "A-003", "A-004"]
    assert_consecutive(resumed, first[-1].id)
    stale = board_events(agent, lambda e: True, last_event_id="12")
    assert stale[0].event == "reset"


def test_health_metrics_and_status_cli(launch_agent) -> None:
    agent = launch_agent()
    checkin(agent)
    with agent.client() as client:
        client.post("/api/v1/checkins", json=checkin_body(), headers=agent.headers())  # no Idempotency-Key
        health = client.get("/healthz").json()
        metrics = client.get("/metrics")
    assert 'checkin_checkins_refused_total{error="idempotency_key_required"} 1.0\n' in metrics.text
    assert health["status"] == "ok" and health["store"] == "ok" and health["central"] == "none"
    assert health["outbox_depth"] == 1 and health["oldest_pending_age_s"] >= 0
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "checkin_checkins_total 1.0\n" in metrics.text
    assert 'checkin_checkin_duration_seconds_bucket{le="+Inf"} 1.0\n' in metrics.text
    assert "checkin_checkin_duration_seconds_count 1.0\n" in metrics.text
    assert "checkin_outbox_pending 1.0\n" in metrics.text and "# TYPE checkin_outbox_pending gauge" in metrics.text
    running = agent.cli("status").stdout
    assert agent.stop() == 0
    stopped = agent.cli("status").stdout
    for text in (running, stopped):
        assert "outbox depth:         1" in text and "waiting 1" in text and "dead letters:         0" in text
        assert "last successful sync: never" in text and "oldest pending age:" in text


def test_logs_of_a_checkin_hold_no_patient_data(launch_agent) -> None:
    agent = launch_agent()
    patient = {"family": "Zyxwvutson", "given": "Quillaby", "birth_date": "1931-12-25"}
    with agent.client() as client:
        client.post("/api/v1/lookup", json=patient, headers=agent.headers())
        client.post("/api/v1/lookup", json={**patient, "birth_date": "1931-02-30"}, headers=agent.headers())
    answer = checkin(agent, appointment_index=None, patient=patient,
                     coverage={"payor": "Acme", "member_id": "MEMBER-778899"})  # fmt: skip
    agent.stop()
    log = agent.log_text()
    assert answer["ticket"] in log and "checkin accepted" in log
    for secret in ("Zyxwvutson", "Quillaby", "1931", "12-25", "MEMBER-778899"):
        assert secret not in log


def test_sigterm_drains_and_ends_event_streams(launch_agent) -> None:
    agent = launch_agent()
    with httpx.Client(base_url=agent.base_url, timeout=httpx.Timeout(30, read=20)) as client:
        with client.stream("GET", "/api/v1/board/events") as response:
            events = read_events(response)
            assert next(events).event == "board"  # the snapshot: the stream is live
            started = time.monotonic()
            agent.process.send_signal(signal.SIGTERM)
            assert list(events) == []  # the stream ends instead of hanging the shutdown
    assert agent.process.wait(20) == 0
    assert time.monotonic() - started < 15


def test_agent_advertises_itself_on_loopback(launch_agent) -> None:
    decoy_site, site_id = unique_site_id("decoy"), unique_site_id()
    decoy = launch_agent(site={"id": decoy_site}, agent={"advertise": True})  # another site's agent, same type
    agent = launch_agent(site={"id": site_id}, agent={"advertise": True})
    names = {f"{decoy_site}.{SERVICE_TYPE}", f"{site_id}.{SERVICE_TYPE}"}

    async def browse(wanted: str) -> AsyncServiceInfo:
        """`wanted`'s record, once the browser has seen both agents announced."""
        zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"])
        seen: set[str] = set()
        both = asyncio.Event()

        def on_change(zeroconf, service_type, name, state_change) -> None:
            if state_change is ServiceStateChange.Added:
                seen.add(name)
                if names <= seen:
                    both.set()

        browser = AsyncServiceBrowser(zeroconf.zeroconf, SERVICE_TYPE, handlers=[on_change])
        try:
            await asyncio.wait_for(both.wait(), 20)
            info = AsyncServiceInfo(SERVICE_TYPE, wanted)
            assert await info.async_request(zeroconf.zeroconf, 5000)
            return info
        finally:
            await browser.async_cancel()
            await zeroconf.async_close()

    info = asyncio.run(browse(f"{site_id}.{SERVICE_TYPE}"))
    assert info.port == agent.port != decoy.port and info.parsed_addresses() == ["127.0.0.1"]
    assert info.properties[b"site"] == site_id.encode() and info.properties[b"api"] == b"1"
    assert info.properties[b"tls"] == b"0"


def test_tls_mode_serves_the_certificate_enrollment_pinned(launch_agent) -> None:
    agent = launch_agent(agent={"tls": "on"})
    assert agent.base_url.startswith("https://") and len(agent.fingerprint) == 64
    served = ssl.get_server_certificate(("127.0.0.1", agent.port))
    assert hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest() == agent.fingerprint
    context = ssl.create_default_context(cafile=str(agent.data_dir / "tls" / "agent.crt"))
    with httpx.Client(base_url=agent.base_url, verify=context, timeout=30) as client:
        assert client.get("/healthz").status_code == 200
        response = client.post("/api/v1/checkins", json=checkin_body(),
                               headers=agent.headers(**{"Idempotency-Key": "tls-1"}))  # fmt: skip
    assert response.status_code == 201
    assert count_rows(agent.store_path, "arrivals") == 1
