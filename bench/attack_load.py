"""Kiosk check-in latency while anonymous clients attack the agent, beside the quiet figure of the same run.

    .venv/bin/python bench/attack_load.py                      # ~1 minute in all
    .venv/bin/python bench/attack_load.py --phase-s 10 --streams 1000 --slow 300

One real agent process (`edge-agent serve`, default [limits]) on 127.0.0.1, then, each phase measured
by the same lean client (2 kiosks, one keep-alive raw-socket connection each, check-ins back to back):

1. client ceiling: the same client against a trivial server that answers a fixed 201 (what the
   client itself costs);
2. quiet: the agent alone;
3. streams + slowloris: a separate attacker process holds `--streams` lobby-board event streams open
   (spread over 100 loopback source addresses, so the total cap is what binds; plus 40 from a single
   address, so the per-source cap does) and `--slow` connections trickling a request head one byte
   a second (re-opened whenever the agent cuts one off at its header deadline; measured from the
   first cut on, so the agent is cutting and the attacker re-opening throughout);
4. sign-in flood: four source addresses posting wrong passwords to the sign-in form back to back.

Printed: p50/p99 per phase, how many streams were admitted / refused with 503, how many slow heads
were cut off, and the agent's resident memory. Loopback only; every count and phase bounded.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import json  # noqa: E402

from tests.agent.helpers import checkin_body  # noqa: E402
from tests.agent.launcher import start_agent  # noqa: E402
from tests.agent.raw_http import rss_kib  # noqa: E402
from tests.processes import free_port  # noqa: E402

KIOSKS = 2
SLOW_CUT_WAIT_S = 20  # the agent's header deadline is 10 s: by then every slow head was cut and re-opened
STREAM_SOURCES = 100
TRIVIAL_SERVER = """
import asyncio, sys
ANSWER = b"HTTP/1.1 201 Created\\r\\ncontent-type: application/json\\r\\ncontent-length: 2\\r\\n\\r\\n{}"
class Echo(asyncio.Protocol):
    def connection_made(self, transport): self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while b"\\r\\n\\r\\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\\r\\n\\r\\n")
            length = next((int(l.split(b":")[1]) for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length")), 0)
            if len(rest) < length: return
            self.buffer = rest[length:]
            self.transport.write(ANSWER)
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


# --- the measuring client -----------------------------------------------------------------------------


def _read_response(sock: socket.socket, buffer: bytes) -> tuple[int, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(head.split(b" ", 2)[1]), rest[length:]


def kiosk_loop(port: int, token: str, seconds: float, latencies: list[float], failures: list[int]) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = checkin_body("kiosk-1")
        payload = json.dumps(body).encode()
        request = (f"POST /api/v1/checkins HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Type: application/json\r\nIdempotency-Key: {body['checkin_id']}\r\n"
                   f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload  # fmt: skip
        started = time.perf_counter()
        sock.sendall(request)
        status, buffer = _read_response(sock, buffer)
        latencies.append(time.perf_counter() - started)
        if status != 201:
            failures.append(status)
    sock.close()


def measure(port: int, token: str, seconds: float) -> dict:
    latencies: list[float] = []
    failures: list[int] = []
    threads = [threading.Thread(target=kiosk_loop, args=(port, token, seconds, latencies, failures)) for _ in range(KIOSKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(latencies)
    return {
        "count": len(ordered), "failures": len(failures),
        "p50_ms": 1000 * statistics.median(ordered), "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
    }  # fmt: skip


# --- the attacker (its own process) --------------------------------------------------------------


def _connect(port: int, source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def _status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return 0
        data += chunk
    return int(data.split(b" ", 2)[1])


def stream_attack(port: int, streams: int, result: dict) -> list[socket.socket]:
    held, admitted, refused = [], 0, 0
    plan = [f"127.0.2.{1 + n % STREAM_SOURCES}" for n in range(streams)] + ["127.0.3.1"] * 40
    for source in plan:
        try:
            sock = _connect(port, source)
            sock.sendall(b"GET /api/v1/board/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            status = _status_of(sock)
        except OSError:
            refused += 1
            continue
        if status == 200:
            admitted += 1
            held.append(sock)
        else:
            refused += 1
            sock.close()
    result.update(streams_admitted=admitted, streams_refused=refused)
    return held


def slowloris(port: int, count: int, stop: threading.Event, result: dict) -> None:
    sockets: list[socket.socket | None] = [None] * count
    cut = 0
    while not stop.is_set():
        for i in range(count):
            sock = sockets[i]
            try:
                if sock is None:
                    sock = sockets[i] = _connect(port, f"127.0.4.{1 + i % 30}")
                    sock.sendall(b"GET /api/v1/board HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                else:
                    sock.sendall(b"a")
            except OSError:
                cut += 1
                result["slow_cut_so_far"] = cut
                if sock is not None:
                    sock.close()
                sockets[i] = None
        stop.wait(1.0)
    result["slow_heads_cut"] = cut
    for sock in sockets:
        if sock is not None:
            sock.close()


def attacker(port: int, streams: int, slow: int, ready, stop, out) -> None:
    result: dict = {}
    held = stream_attack(port, streams, result)
    stop_slow = threading.Event()
    trickler = threading.Thread(target=slowloris, args=(port, slow, stop_slow, result))
    trickler.start()
    deadline = time.monotonic() + SLOW_CUT_WAIT_S
    while "slow_cut_so_far" not in result and time.monotonic() < deadline:  # measure once heads are being cut
        time.sleep(0.2)
    ready.set()
    stop.wait(300)
    stop_slow.set()
    trickler.join()
    for sock in held:
        sock.close()
    out.put(result)


def sign_in_flooder(port: int, source: str, stop) -> None:
    body = b"username=admin&password=not-the-password&csrf_token=x"
    request = (b"POST /desk/login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
               b"Cookie: desk_login_csrf=x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: %d\r\n\r\n%s") % (port, port, len(body), body)  # fmt: skip
    while not stop.is_set():
        try:
            sock = _connect(port, source)
            buffer = b""
            while not stop.is_set():
                sock.sendall(request)
                _status, buffer = _read_response(sock, buffer)
        except (OSError, ConnectionError):
            time.sleep(0.05)


# --- the run ---------------------------------------------------------------------------------------


def row(name: str, figures: dict) -> str:
    return (f"{name:<28} {figures['count']:>7} {figures['p50_ms']:>9.2f} {figures['p99_ms']:>9.2f}"
            f" {figures['failures']:>8}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-s", type=float, default=8.0)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=300)
    args = parser.parse_args()

    trivial_port = free_port()
    trivial = subprocess.Popen([sys.executable, "-c", TRIVIAL_SERVER, str(trivial_port)])
    time.sleep(0.5)
    try:
        ceiling = measure(trivial_port, "x", min(args.phase_s, 3.0))
    finally:
        trivial.terminate()
        trivial.wait(10)

    with tempfile.TemporaryDirectory(prefix="attack-load-") as tmp:
        agent = start_agent(Path(tmp), agent={"lookup_rate_per_minute": 600})
        subprocess.run([sys.executable, "-m", "edge_agent.cli", "add-staff", "admin", "--role", "admin",
                        "--password-stdin", "--config", str(agent.config_path)],
                       input="the-real-admin-password\n", text=True, check=True, capture_output=True, cwd=REPO)  # fmt: skip
        try:
            measure(agent.port, agent.token, 2.0)  # warm-up, not reported
            rss_quiet = rss_kib(agent.process.pid)
            quiet = measure(agent.port, agent.token, args.phase_s)

            context = multiprocessing.get_context("spawn")
            ready, stop, out = context.Event(), context.Event(), context.Queue()
            attack = context.Process(target=attacker, args=(agent.port, args.streams, args.slow, ready, stop, out))
            attack.start()
            if not ready.wait(120):
                raise SystemExit("the attacker did not get going")
            under_attack = measure(agent.port, agent.token, args.phase_s)
            rss_attack = rss_kib(agent.process.pid)
            stop.set()
            result = out.get(timeout=60)
            attack.join(30)

            stop_flood = context.Event()
            flooders = [context.Process(target=sign_in_flooder, args=(agent.port, f"127.0.5.{n}", stop_flood))
                        for n in range(1, 5)]  # fmt: skip
            for process in flooders:
                process.start()
            time.sleep(1.0)
            flooded = measure(agent.port, agent.token, args.phase_s)
            stop_flood.set()
            for process in flooders:
                process.join(30)
        finally:
            agent.stop()

    print(f"check-ins from {KIOSKS} kiosks back to back, {args.phase_s:.0f} s a phase (ms)")
    print(f"{'phase':<28} {'count':>7} {'p50':>9} {'p99':>9} {'failures':>8}")
    print(row("client ceiling (trivial)", ceiling))
    print(row("quiet agent", quiet))
    print(row(f"{args.streams} streams + {args.slow} slow", under_attack))
    print(row("sign-in flood (4 sources)", flooded))
    print(f"board streams: {result['streams_admitted']} admitted, {result['streams_refused']} refused (503 / closed)")
    print(f"slow heads cut off by the header deadline (each re-opened at once): {result['slow_heads_cut']}")
    print(f"agent RSS: quiet {rss_quiet['VmRSS'] / 1024:.0f} MiB, under attack {rss_attack['VmRSS'] / 1024:.0f} MiB,"
          f" peak {rss_attack['VmHWM'] / 1024:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
