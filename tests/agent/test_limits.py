"""What one anonymous client may take from a real agent process: body sizes, slow heads, idle sockets,
board streams. Each test misbehaves the way an attacker would and then checks that a kiosk still works.

Correctness only; the figures under load are bench/attack_load.py's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import threading
import time
import uuid
from typing import Iterator

import httpx
import pytest

from edge_agent.schedule import DEMO_PATIENTS

from .helpers import checkin_body
from .launcher import RunningAgent, start_agent
from .raw_http import closed_by_peer, connect, open_stream, read_head, read_response, request_head, rss_kib

MB = 1_000_000
LIMITS = {
    "header_timeout_s": 1.5,
    "body_idle_timeout_s": 1.5,
    "board_streams": 6,
    "board_streams_per_source": 3,
    "connections_per_source": 40,
}
BOARD_EVENTS = "/api/v1/board/events"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    running = start_agent(tmp_path_factory.mktemp("limits-agent"), limits=LIMITS, agent={"lookup_rate_per_minute": 600})
    try:
        yield running
    finally:
        running.stop()


def check_in(agent: RunningAgent, body: dict | None = None) -> httpx.Response:
    body = body or checkin_body(agent.kiosk_id, appointment_index=None)  # a walk-in: one visit per call
    with agent.client() as client:
        return client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": body["checkin_id"]}))


# --- bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/lookup", "/api/v1/kiosks/heartbeat", "/api/v1/help", "/api/v1/checkins",
                                  "/desk/login", "/api/v1/queue/undo"])  # fmt: skip
def test_a_declared_100_mb_body_is_refused_at_once_on_every_route(agent: RunningAgent, path: str) -> None:
    """No token, 100 MB announced: a 413 Problem before a byte of the body is read, and the connection closes."""
    with connect(agent.port) as sock:
        sock.sendall(request_head("POST", path, {"Content-Type": "application/json", "Content-Length": str(100 * MB)}))
        response = read_response(sock)  # nothing of the body was sent: an answer now proves it was not awaited
        assert response.status == 413, response
        assert response.json()["error"] == "body_too_large"
        assert response.headers["connection"] == "close"
        assert closed_by_peer(sock, 5)


def test_streamed_100_mb_bodies_do_not_grow_the_agent(agent: RunningAgent) -> None:
    """Four anonymous 100 MB bodies without Content-Length (chunked) at once: the agent counts what it
    reads, refuses past the limit, and its memory stays where it was."""
    before = rss_kib(agent.process.pid)
    chunk = b"%x\r\n%s\r\n" % (MB, b"x" * MB)

    def flood(path: str) -> None:
        with connect(agent.port, "127.0.0.7") as sock:
            sock.sendall(request_head("POST", path, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
            try:
                for _ in range(100):
                    sock.sendall(chunk)
            except OSError:
                return  # refused and closed by the agent (before the 100 MB were through)
            raise AssertionError(f"{path}: the agent took 100 MB")

    floods = [threading.Thread(target=flood, args=(path,)) for path in
              ("/api/v1/lookup", "/api/v1/kiosks/heartbeat", "/api/v1/help", "/api/v1/checkins")]  # fmt: skip
    for thread in floods:
        thread.start()
    for thread in floods:
        thread.join(60)
    after = rss_kib(agent.process.pid)
    assert after["VmHWM"] - before["VmHWM"] < 10_000, (before, after)  # KiB: peak grew by under 10 MB
    assert after["VmRSS"] - before["VmRSS"] < 10_000, (before, after)
    assert check_in(agent).status_code == 201


def test_a_streamed_body_past_the_limit_gets_a_413_problem(agent: RunningAgent) -> None:
    with connect(agent.port) as sock:
        sock.sendall(request_head("POST", "/api/v1/lookup", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        sock.sendall(b"%x\r\n%s\r\n" % (100_000, b" " * 100_000))  # more than the 64 KB of a lookup, never finished
        response = read_response(sock)
    assert response.status == 413 and response.json()["error"] == "body_too_large"


def heavy_signature(points: int = 4000) -> dict:
    """A long signature at full float precision: 20 s on a 200 Hz pad, the most a patient plausibly gives."""
    strokes = [{"points": [{"x_mm": 5.123456789012345 + (i % 700) * 0.1987654321, "y_mm": 10.98765432109876 + (i % 23) * 1.0123456789,
                            "t_ms": stroke * 1000 + i * 5, "pressure": 0.5123456789012345} for i in range(points // 20)]}
               for stroke in range(20)]  # fmt: skip
    return {"width_mm": 150.0, "height_mm": 50.0, "strokes": strokes, "device": "pad"}


def test_the_largest_legitimate_check_in_still_fits(agent: RunningAgent) -> None:
    """A new patient's check-in with every form due signed at length (see heavy_signature): accepted.
    Its size is printed; the check-in limit (8 MB) keeps a wide margin above it."""
    family, given, birth_date = DEMO_PATIENTS[5]  # the demo schedule's new patient: every form is due
    with agent.client() as client:
        found = client.post("/api/v1/lookup", headers=agent.headers(),
                            json={"family": family, "given": given, "birth_date": birth_date, "language": "en"}).json()
    appointment = found["appointment"]
    consents = [{
        "document_id": form["document_id"], "version": form["version"], "language": "en",
        "text_sha256": hashlib.sha256(form["text"]["en"].encode()).hexdigest(), "decision": "accepted",
        "signature": heavy_signature(), "signed_at": dt.datetime.now(dt.UTC).isoformat(), "kiosk_id": agent.kiosk_id,
    } for form in appointment["forms_due"]]  # fmt: skip
    body = checkin_body(agent.kiosk_id, appointment_index=None, appointment_id=appointment["appointment_id"],
                        patient={"family": family, "given": given, "birth_date": birth_date}, consents=consents)
    size = len(httpx.Request("POST", "http://x", json=body).content)
    print(f"largest legitimate check-in: {len(consents)} forms, {size / MB:.2f} MB")
    assert len(consents) >= 4 and size > 64_000
    response = check_in(agent, body)
    assert response.status_code == 201, response.text


# --- heads and idle sockets ------------------------------------------------------------------------


def test_a_slow_head_is_cut_off_at_the_header_deadline(agent: RunningAgent) -> None:
    """Slowloris: a request head trickling in one byte at a time never completes; the agent hangs up
    after header_timeout_s (1.5 s here) even though bytes keep coming."""
    with connect(agent.port, "127.0.0.3") as sock:
        sock.sendall(b"GET /api/v1/board HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 10:
            try:
                sock.sendall(b"a")
            except OSError:
                closed = True
                break
            if closed_by_peer(sock, 0.25):
                closed = True
                break
    assert closed, "the agent kept a never-ending request head open for 10 s"


def test_a_silent_connection_is_closed(agent: RunningAgent) -> None:
    with connect(agent.port, "127.0.0.3") as sock:
        assert closed_by_peer(sock, 10)


def test_a_stalled_body_is_cut_off(agent: RunningAgent) -> None:
    with connect(agent.port, "127.0.0.3") as sock:
        sock.sendall(request_head("POST", "/api/v1/lookup", {"Content-Type": "application/json", "Content-Length": "100"}))
        sock.sendall(b'{"family": ')
        assert closed_by_peer(sock, 10)


def test_an_oversized_head_gets_431(agent: RunningAgent) -> None:
    with connect(agent.port) as sock:
        sock.sendall(b"GET /api/v1/board HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 200_000)
        response = read_response(sock)
    assert response.status == 431 and response.json()["error"] == "header_too_large"


def test_connections_beyond_the_per_source_cap_are_closed_and_other_sources_still_served(agent: RunningAgent) -> None:
    sockets = [connect(agent.port, "127.0.0.4") for _ in range(LIMITS["connections_per_source"])]
    try:
        with connect(agent.port, "127.0.0.4") as one_too_many:
            assert closed_by_peer(one_too_many, 5)
        assert check_in(agent).status_code == 201  # the kiosk (127.0.0.1) is another source
    finally:
        for sock in sockets:
            sock.close()


# --- board streams ---------------------------------------------------------------------------------


def test_board_streams_are_capped_per_source_and_in_total_and_kiosks_still_check_in(agent: RunningAgent) -> None:
    per_source, total = LIMITS["board_streams_per_source"], LIMITS["board_streams"]
    streams: list[socket.socket] = []
    slow = [connect(agent.port, "127.0.0.6") for _ in range(10)]  # slow clients: heads never finished
    for sock in slow:
        sock.sendall(b"GET / HTTP/1.1\r\n")
    try:
        for _ in range(per_source):
            sock, response = open_stream(agent.port, BOARD_EVENTS, "127.0.0.2")
            assert response.status == 200
            streams.append(sock)
        refused_sock, refused = open_stream(agent.port, BOARD_EVENTS, "127.0.0.2")  # the N+1th from one source
        with refused_sock:
            assert refused.status == 503 and int(refused.headers["retry-after"]) > 0
            assert b"too_many_streams" in read_response_body(refused_sock, refused)
        for _ in range(total - per_source):
            sock, response = open_stream(agent.port, BOARD_EVENTS, "127.0.0.5")
            assert response.status == 200
            streams.append(sock)
        full_sock, full = open_stream(agent.port, BOARD_EVENTS, "127.0.0.8")  # a fresh source, but no room left
        full_sock.close()
        assert full.status == 503
        assert check_in(agent).status_code == 201  # the kiosk API is not starved
        with agent.client() as client:
            assert client.get("/api/v1/board").status_code == 200
        streams.pop(0).close()  # a stream that ends gives its place back
        sock, response = open_stream_when_free(agent, "127.0.0.2")
        streams.append(sock)
        assert response.status == 200
    finally:
        for sock in streams + slow:
            sock.close()


def open_stream_when_free(agent: RunningAgent, source: str, headers: dict[str, str] | None = None):
    """Open a board stream, retrying while earlier streams' places are still being given back."""
    deadline = time.monotonic() + 10
    while True:
        sock, response = open_stream(agent.port, BOARD_EVENTS, source, headers)
        if response.status != 503 or time.monotonic() > deadline:
            return sock, response
        sock.close()
        time.sleep(0.1)


def read_response_body(sock: socket.socket, response) -> bytes:
    body = response.body
    length = int(response.headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(65536)
    return body


def test_a_5000_digit_last_event_id_gets_a_reset_not_an_error(agent: RunningAgent) -> None:
    sock, response = open_stream_when_free(agent, "127.0.0.1", {"Last-Event-ID": "9" * 5000})
    with sock:
        assert response.status == 200
        received = response.body
        sock.settimeout(10)
        while b"event: reset" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"stream ended without a reset: {received!r}"
            received += chunk
    assert "ValueError" not in agent.log_text()
