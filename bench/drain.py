"""Drain benchmark: how fast the sync worker empties a backlog of check-ins into the FHIR sandbox.

    .venv/bin/python bench/drain.py [--checkins 10000] [--concurrency 8]

One run prints, side by side:
- the ceiling: the sandbox's own rate for the very same transaction Bundles, POSTed by a lean client
  (raw keep-alive HTTP/1.1 on asyncio streams, no agent), and that client's own rate against an empty
  endpoint, so we know which of the two we measured;
- the agent: SyncWorker + FhirConnector on a real Store (SQLite WAL, fsync'd commits), the way the agent
  runs it, from N queued check-ins to an empty outbox: check-ins/s and HTTP requests used;
- where the agent's CPU goes: building + validating the Bundles alone (fhir.resources.R4B), per second;
- CPU milliseconds per check-in of each side (this process's threads via getrusage, the sandbox's via
  /proc), which do not depend on what else runs on the machine, and the rate they imply on two idle
  cores (agent and server each single-threaded: min(1/agent, 1/server, 2/(agent+server))).

Both drains start from the same freshly seeded central (reset + seed between them).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import uvloop

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_agent.central.fhir import FhirConnector  # noqa: E402
from edge_agent.config import from_mapping  # noqa: E402
from edge_agent.fhir_bundle import checkin_bundle_json  # noqa: E402
from lobby_core.outbox_events import CheckinV1  # noqa: E402
from edge_agent.keys import SiteKey  # noqa: E402
from edge_agent.schedule import appointment_to_json  # noqa: E402
from edge_agent.store import Store  # noqa: E402
from edge_agent.sync import SyncWorker  # noqa: E402
from tools.central_seed import day_schedule  # noqa: E402

SYSTEM = "urn:bench-site"
SEED_CHUNK = 3000


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Central:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.fhir_sandbox", "--port", str(self.port), "--data", str(workdir / "central.db")],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/metadata", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("the FHIR sandbox did not start")

    def control(self, method: str, path: str, **kwargs) -> dict:
        response = httpx.request(method, f"{self.url}/_control/{path}", timeout=300, **kwargs)
        response.raise_for_status()
        return response.json()

    def fresh(self, resources: list[dict]) -> None:
        self.control("POST", "reset")
        for start in range(0, len(resources), SEED_CHUNK):
            self.control("POST", "seed", json={"resources": resources[start:start + SEED_CHUNK]})

    def posts(self) -> int:
        return self.control("GET", "stats")["requests"].get("POST", 0)

    def encounters(self) -> int:
        return self.control("GET", "stats")["resources"].get("Encounter", 0)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def payloads_for(central: Central, site, count: int) -> list[dict]:
    """One check-in per appointment of the seeded day, as the agent's check-in transaction writes them."""
    connector = FhirConnector(site.central)

    async def pull():
        try:
            return await connector.fetch_schedule(dt.datetime.now(dt.timezone.utc).date())
        finally:
            await connector.aclose()

    schedule = asyncio.run(pull())
    assert len(schedule) == count, f"schedule pull returned {len(schedule)} of {count}"
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    return [
        {
            "checkin": {
                "checkin_id": str(uuid.uuid4()), "kiosk_id": "kiosk-1", "appointment_id": a.appointment_id,
                "identity_source": "aamva",
                "patient": {"family": a.family, "given": a.given, "birth_date": a.birth_date.isoformat()},
                "coverage": {"payor": "Acme Health", "member_id": "M1234567", "group": "G-1", "source": "card"},
                "answers": [{"link_id": "fever", "text": "Fever?", "value": False},
                            {"link_id": "reason", "text": "Reason", "value": "follow-up"}],
            },
            "ticket": f"A-{n % 1000:03d}", "arrived_at": now, "site_id": "bench", "site_name": "Bench",
            "appointment": appointment_to_json(a), "consent_ids": [], "flags": [],
        }
        for n, a in enumerate(schedule)
    ]


# --- the lean client ---------------------------------------------------------------------------------


async def lean_post_all(port: int, bodies: list[bytes], connections: int, path: str = "/") -> float:
    """POST every body over `connections` keep-alive HTTP/1.1 streams; returns elapsed seconds."""
    queue = list(reversed(bodies))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(
                    int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                if status != 200 and path == "/":
                    raise SystemExit(f"central answered {status} to a bench transaction")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return time.perf_counter() - started


# --- the agent -------------------------------------------------------------------------------------


async def agent_drain(store: Store, site, target: int) -> tuple[float, dict]:
    worker = SyncWorker(store, FhirConnector(site.central, store), site.central)
    started = time.perf_counter()
    task = asyncio.create_task(worker.run())
    try:
        # cheap in-memory progress first; the store's count (a scan of the outbox) only at the end
        while worker.health.delivered < target or (await asyncio.to_thread(store.outbox_stats)).pending:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        return time.perf_counter() - started, worker.health.as_dict()
    finally:
        await worker.stop()
        await task


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def enqueue_all(store: Store, payloads: list[dict]) -> None:
    def work(conn) -> None:
        for payload in payloads:
            checkin_id = payload["checkin"]["checkin_id"]
            store.enqueue(conn, "checkin.v1", checkin_id, payload["appointment"]["patient_id"], payload)

    store.write_sync(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    count = args.checkins

    with tempfile.TemporaryDirectory(prefix="drain-bench-") as tmp:
        workdir = Path(tmp)
        central = Central(workdir)
        try:
            site = from_mapping({
                "agent": {"data_dir": str(workdir / "agent"), "key_file": str(workdir / "agent" / "site.key")},
                "central": {"kind": "fhir", "base_url": central.url, "identifier_system": SYSTEM,
                            "concurrency": args.concurrency, "timeout_s": 30},
            })  # fmt: skip
            resources = day_schedule(dt.datetime.now(dt.timezone.utc).date(), count)
            started = time.perf_counter()
            central.fresh(resources)
            seeded_s = time.perf_counter() - started
            payloads = payloads_for(central, site, count)

            started = time.perf_counter()
            bodies = [checkin_bundle_json(CheckinV1.model_validate(p), SYSTEM) for p in payloads]
            build_s = time.perf_counter() - started

            empty_s = uvloop.run(lean_post_all(central.port, [b"{}"] * 5000, args.concurrency, path="/_control/none"))
            posts_before, server_cpu = central.posts(), central.cpu_s()
            ceiling_s = uvloop.run(lean_post_all(central.port, bodies, args.concurrency))
            ceiling_requests = central.posts() - posts_before
            server_ms_baseline = (central.cpu_s() - server_cpu) * 1000 / count
            assert central.encounters() == count

            central.fresh(resources)
            store = Store(workdir / "agent" / "agent.db", SiteKey.load_or_create(workdir / "agent" / "site.key"))
            try:
                enqueue_all(store, payloads)
                posts_before, server_cpu, agent_cpu = central.posts(), central.cpu_s(), own_cpu_s()
                drain_s, health = uvloop.run(agent_drain(store, site, count))
                agent_ms = (own_cpu_s() - agent_cpu) * 1000 / count
                server_ms = (central.cpu_s() - server_cpu) * 1000 / count
                agent_requests = central.posts() - posts_before
                stats = store.outbox_stats()
            finally:
                store.close()
            assert stats.delivered == count and stats.dead == 0, stats
            assert central.encounters() == count, "every check-in exactly once at central"
        finally:
            central.stop()

    print(f"drain of {count} queued check-ins into the loopback FHIR sandbox ({os.cpu_count()} cores, "
          f"concurrency {args.concurrency}; seeded {len(resources)} resources in {seeded_s:.1f}s)")
    print(f"{'':44} {'seconds':>9} {'check-ins/s':>12} {'HTTP requests':>14}")
    print(f"{'lean client alone (empty answers, ceiling)':44} {empty_s:9.2f} {5000 / empty_s:12.0f} {5000:14d}")
    print(f"{'baseline: lean client -> sandbox, same Bundles':44} {ceiling_s:9.2f} {count / ceiling_s:12.0f} {ceiling_requests:14d}")
    print(f"{'agent: SyncWorker drain (store + httpx)':44} {drain_s:9.2f} {count / drain_s:12.0f} {agent_requests:14d}")
    print(f"{'agent CPU: build + validate Bundles only':44} {build_s:9.2f} {count / build_s:12.0f} {'-':>14}")
    implied = min(1000 / agent_ms, 1000 / server_ms, 2000 / (agent_ms + server_ms))
    print(f"CPU per check-in: agent {agent_ms:.2f} ms (incl. its store threads), sandbox {server_ms:.2f} ms "
          f"during the agent drain, {server_ms_baseline:.2f} ms during the baseline")
    print(f"implied drain rate on two idle cores: {implied:.0f} check-ins/s")
    if health["retried"]:
        print(f"agent retries during the drain: {health['retried']} (last: {health['last_error']})")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (other processes share these cores)")
    print(f"agent drain at {count / drain_s / (count / ceiling_s):.0%} of the server's ceiling; target >= 300 check-ins/s")


if __name__ == "__main__":
    main()
