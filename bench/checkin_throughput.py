"""Durable check-ins per second through the kiosk API, beside the disk's bare SQLite commit rate.

    .venv/bin/python bench/checkin_throughput.py [--duration 10] [--connections 1,8,32]

In one run, on this machine:
1. bare SQLite: single-row commits (WAL, synchronous=FULL, ~1.5 KB rows), each its own fsync'd
   transaction, in the same folder the agent writes to;
2. the load generator's own ceiling: `wrk` against a trivial HTTP server (a fixed 201 answer);
3. an agent started as a real process on 127.0.0.1 (plain HTTP, as the demo runs), one enrolled kiosk,
   and `wrk` posting check-ins (a unique Idempotency-Key and checkin_id per request, from a Lua script)
   at each number of concurrent connections: check-ins/s and p50/p99 latency;
4. verification: the database holds every answered check-in exactly once (an arrival, an outbox event
   and an idempotency record each, tickets unique), and nothing was answered with an error.
Target (issue 3): >= 1,000 check-ins/s with p99 <= 25 ms at 32 concurrent kiosks on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agent.launcher import free_port, start_agent, today_demo_appointment_id  # noqa: E402

WRK_SCRIPT = textwrap.dedent(
    """
    -- Each request: a fresh checkin_id (= Idempotency-Key) from a run prefix, the thread and a counter.
    counter, statuses = 0, {}  -- globals: done() reads them with thread:get
    local prefix, token, body_template
    function init(args)
      prefix, token = args[1], args[2]
      body_template = args[3]
    end
    function request()
      counter = counter + 1
      local id = string.format("%s-%04x-4000-8000-%012x", prefix, thread_id_value or 0, counter)
      local body = string.gsub(body_template, "CHECKIN_ID", id)
      return wrk.format("POST", "/api/v1/checkins", {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = id,
      }, body)
    end
    function response(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
    end
    local threads = {}
    function setup(thread)
      thread:set("thread_id_value", #threads + 1)
      table.insert(threads, thread)
    end
    function done(summary, latency, requests)
      local merged = {}
      for _, thread in ipairs(threads) do
        local s = thread:get("statuses")
        for code, count in pairs(s) do merged[tostring(code)] = (merged[tostring(code)] or 0) + count end
      end
      local parts = {}
      for code, count in pairs(merged) do table.insert(parts, string.format('"%s": %d', code, count)) end
      io.write(string.format(
        'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d,' ..
        ' "errors": %d, "statuses": {%s}}\\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
        summary.errors.timeout, table.concat(parts, ", ")))
    end
    """
)

TRIVIAL_SERVER = textwrap.dedent(
    """
    import asyncio, sys, uvloop
    ANSWER = b"HTTP/1.1 201 Created\\r\\ncontent-type: application/json\\r\\ncontent-length: 2\\r\\n\\r\\n{}"
    class Http(asyncio.Protocol):
        def connection_made(self, transport): self.transport, self.buffer = transport, b""
        def data_received(self, data):
            self.buffer += data
            while True:
                head, sep, rest = self.buffer.partition(b"\\r\\n\\r\\n")
                if not sep: return
                length = 0
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"content-length:"): length = int(line.split(b":")[1])
                if len(rest) < length: return
                self.buffer = rest[length:]
                self.transport.write(ANSWER)
    async def main():
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", int(sys.argv[1]))
        print("ready", flush=True)
        await server.serve_forever()
    uvloop.run(main())
    """
)


def sqlite_single_row_commits(folder: Path, seconds: float) -> float:
    """Rows/s when every row is its own fsync'd commit (WAL, synchronous=FULL)."""
    path = folder / "baseline.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
    payload = secrets.token_bytes(1500)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t(payload) VALUES (?)", (payload,))
        conn.execute("COMMIT")
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return count / elapsed


def run_wrk(url: str, connections: int, seconds: float, script: Path, args: list[str]) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s", "--latency",
               "-s", str(script), url, "--", *args]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    line = next(l for l in output.splitlines() if l.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def load_generator_ceiling(script: Path, seconds: float, connections: int) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", TRIVIAL_SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        return run_wrk(f"http://127.0.0.1:{port}", connections, seconds, script, ["00000000", "x", "{}"])
    finally:
        server.terminate()
        server.wait(10)


def checkin_template(kiosk_id: str) -> str:
    return json.dumps({
        "checkin_id": "CHECKIN_ID", "kiosk_id": kiosk_id, "appointment_id": today_demo_appointment_id(1),
        "identity_source": "manual",
        "patient": {"family": "García López", "given": "María José", "birth_date": "1956-03-14"},
        "coverage": {"payor": "Medicare", "member_id": "XG12345678", "group": "GRP-540"},
        "answers": [{"link_id": "fever", "text": "Fever in the last 48 hours?", "value": False}],
    }, ensure_ascii=False)  # fmt: skip


def _settled(db: Path, like: tuple, timeout_s: float = 30.0) -> None:
    """Wait until requests that were in flight when wrk stopped have committed (the count holds still)."""
    previous, deadline = -1, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        count = conn.execute("SELECT COUNT(*) FROM arrivals WHERE checkin_id LIKE ?", like).fetchone()[0]
        conn.close()
        if count == previous:
            return
        previous = count
        time.sleep(0.5)


def verify(db: Path, prefix: str, answered: int, connections: int) -> str:
    like = (f"{prefix}-%",)
    _settled(db, like)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60, isolation_level=None)
    conn.execute("BEGIN")  # one snapshot for every count
    arrivals = conn.execute("SELECT COUNT(*), COUNT(DISTINCT checkin_id) FROM arrivals WHERE checkin_id LIKE ?", like).fetchone()
    outbox = conn.execute("SELECT COUNT(*), COUNT(DISTINCT aggregate_id) FROM outbox WHERE aggregate_id LIKE ?", like).fetchone()
    keys = conn.execute("SELECT COUNT(*) FROM idempotency WHERE key LIKE ?", like).fetchone()[0]
    tickets = conn.execute("SELECT COUNT(*), COUNT(DISTINCT day || ticket) FROM arrivals").fetchone()
    conn.execute("COMMIT")
    conn.close()
    problems = []
    if arrivals[0] != arrivals[1] or outbox[0] != outbox[1] or tickets[0] != tickets[1]:
        problems.append("duplicates")
    if not arrivals[0] == outbox[0] == keys:
        problems.append(f"arrivals {arrivals[0]} / outbox {outbox[0]} / idempotency {keys} differ")
    # Requests cut off by wrk's stop may have committed without their answer being counted.
    if not answered <= arrivals[0] <= answered + connections:
        problems.append(f"{answered} answered but {arrivals[0]} stored")
    return "ok" if not problems else "FAILED: " + "; ".join(problems)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load level")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    levels = [int(n) for n in options.connections.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="checkin-bench-"))
    script = folder / "checkin.lua"
    script.write_text(WRK_SCRIPT)
    print(f"# check-in throughput, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start, data in {folder}")
    baseline = sqlite_single_row_commits(folder, min(options.duration, 5.0))
    ceiling = load_generator_ceiling(script, min(options.duration, 5.0), max(levels))
    agent = start_agent(folder / "agent")
    failures = 0
    try:
        template = checkin_template(agent.kiosk_id)
        rows = []
        for connections in levels:
            prefix = secrets.token_hex(4)
            cpu_before = cpu_seconds(agent.process.pid)
            result = run_wrk(agent.base_url, connections, options.duration, script, [prefix, agent.token, template])
            result["cpu_ms"] = (cpu_seconds(agent.process.pid) - cpu_before) * 1000 / max(1, result["requests"])
            answered = result["statuses"].get("201", 0)
            errors = result["errors"] + sum(v for k, v in result["statuses"].items() if k != "201")
            check = verify(agent.store_path, prefix, answered, connections)
            failures += check != "ok" or errors > 0
            rows.append((connections, result, errors, check))
    finally:
        exit_code = agent.stop()
        if not options.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"bare SQLite, one fsync'd commit per 1.5 KB row:   {baseline:9,.0f} commits/s")
    print(f"wrk ceiling vs trivial server ({max(levels)} conns):         {ceiling['rate']:9,.0f} requests/s"
          f"   p50 {ceiling['p50_us'] / 1000:.2f} ms  p99 {ceiling['p99_us'] / 1000:.2f} ms")  # fmt: skip
    print()
    print("kiosks  check-ins/s   p50 ms   p99 ms   max ms  agent CPU ms/check-in  errors  stored exactly once")
    for connections, result, errors, check in rows:
        print(f"{connections:6d}  {result['rate']:11,.0f}  {result['p50_us'] / 1000:7.2f}  {result['p99_us'] / 1000:7.2f}"
              f"  {result['max_us'] / 1000:7.1f}  {result['cpu_ms']:21.2f}  {errors:6d}  {check}")  # fmt: skip
    print(f"\nagent exit status after SIGTERM: {exit_code}; load average {os.getloadavg()[0]:.1f} at the end"
          " (other processes on these cores skew every figure but the CPU time per check-in)")
    return 1 if failures or exit_code != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
