"""Schedule pull benchmark: a 5,000-appointment day, with Patients, Coverage and Consents, pulled by the
agent's FHIR connector from a tiny static server, beside a bare json.loads + dict parse of the same
pages in the same run.

    .venv/bin/python bench/schedule_pull.py [--appointments 5000]

The server (this file with --serve, a separate process so it is not measured) answers /metadata and the
Appointment search pages (200 appointments each, with their includes, `next` links by `_offset`) from
JSON rendered once. Printed per side: wall time of the pull, peak Python memory during it
(tracemalloc), and p50/p99 of a name + birth date lookup (the agent: ScheduleCache.find with its
accent- and case-folding matching; the baseline: a dict keyed by the exact strings).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_agent.central import connector_for  # noqa: E402
from edge_agent.config import from_mapping  # noqa: E402
from edge_agent.schedule import ScheduleCache  # noqa: E402
from tests.processes import free_port  # noqa: E402
from tools.central_seed import day_schedule  # noqa: E402
from tools.fhir_sandbox.modes import SandboxMode  # noqa: E402

PAGE = 200  # what the agent asks for (edge_agent/central/schedule_scope.PAGE_SIZE)
LOOKUPS = 2000


def consent(patient_id: str) -> dict:
    return {
        "resourceType": "Consent", "id": f"consent-{patient_id}", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"}, "dateTime": "2026-06-01T10:00:00+00:00",
        "policy": [{"uri": "urn:lobby-checkin:consent:consent-to-treat:2025.1"}],
    }  # fmt: skip


def render_pages(day: dt.date, count: int, base: str) -> list[bytes]:
    """The searchset pages a server with _include/_revinclude answers, as bytes."""
    resources = day_schedule(day, count)
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    coverage = {r["beneficiary"]["reference"]: r for r in resources if r["resourceType"] == "Coverage"}
    appointments = [r for r in resources if r["resourceType"] == "Appointment"]
    pages = []
    for start in range(0, len(appointments), PAGE):
        entries = []
        for appointment in appointments[start : start + PAGE]:
            patient_id = appointment["participant"][0]["actor"]["reference"].split("/")[1]
            entries.append({"resource": appointment, "search": {"mode": "match"}})
            entries.append({"resource": patients[patient_id], "search": {"mode": "include"}})
            if cov := coverage.get(f"Patient/{patient_id}"):
                entries.append({"resource": cov, "search": {"mode": "include"}})
            if int(patient_id.split("-")[1]) % 2:
                entries.append({"resource": consent(patient_id), "search": {"mode": "include"}})
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(appointments), "entry": entries}
        if start + PAGE < len(appointments):
            bundle["link"] = [{"relation": "next", "url": f"{base}/Appointment?_offset={start + PAGE}"}]
        pages.append(json.dumps(bundle).encode())
    return pages


def serve(port: int, count: int, day: str) -> None:
    pages = render_pages(dt.date.fromisoformat(day), count, f"http://127.0.0.1:{port}")
    metadata = json.dumps(SandboxMode().capability_statement()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            if url.path == "/metadata":
                body = metadata
            elif url.path == "/Appointment":
                body = pages[int(parse_qs(url.query).get("_offset", ["0"])[0]) // PAGE]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    print("ready", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.99) - 1] * 1e6


def agent_pull(url: str, day: dt.date, people: list[tuple[str, str, dt.date]]) -> tuple[float, float, float, float, int]:
    config = from_mapping({"central": {"kind": "fhir", "base_url": url, "timeout_s": 30},
                           "schedule": {"scope": "whole-server"}})  # fmt: skip
    connector = connector_for(config)

    async def pull():
        try:
            return await connector.fetch_schedule(day)
        finally:
            await connector.aclose()

    tracemalloc.start()
    started = time.perf_counter()
    schedule = asyncio.run(pull())
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    cache = ScheduleCache(None, None, "UTC", 300)  # type: ignore[arg-type] - lookups only, nothing stored
    cache._install(cache.today(), schedule)
    samples = []
    for family, given, birth in people:
        started = time.perf_counter()
        assert cache.find(family, given, birth)
        samples.append(time.perf_counter() - started)
    return (elapsed, peak, *percentiles(samples), len(schedule))


def bare_pull(url: str, people: list[tuple[str, str, dt.date]]) -> tuple[float, float, float, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    by_id: dict[str, dict] = {}
    with httpx.Client(timeout=30) as client:
        client.get(f"{url}/metadata")
        next_url: str | None = f"{url}/Appointment?_count={PAGE}"
        while next_url:
            bundle = json.loads(client.get(next_url).content)
            for entry in bundle["entry"]:
                by_id[f"{entry['resource']['resourceType']}/{entry['resource']['id']}"] = entry["resource"]
            next_url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    index: dict[tuple[str, str, str], list[dict]] = {}
    for resource in by_id.values():
        if resource["resourceType"] == "Appointment":
            patient = by_id[resource["participant"][0]["actor"]["reference"]]
            key = (patient["name"][0]["family"], patient["name"][0]["given"][0], patient["birthDate"])
            index.setdefault(key, []).append(resource)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    samples = []
    for family, given, birth in people:
        started = time.perf_counter()
        assert index[(family, given, birth.isoformat())]
        samples.append(time.perf_counter() - started)
    return (elapsed, peak, *percentiles(samples), sum(len(v) for v in index.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=5000)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.appointments, args.day)
        return
    day = dt.datetime.now(dt.timezone.utc).date()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--appointments", str(args.appointments), "--day", day.isoformat()],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}"
        resources = day_schedule(day, args.appointments)
        patients = [r for r in resources if r["resourceType"] == "Patient"]
        people = [(p["name"][0]["family"], p["name"][0]["given"][0], dt.date.fromisoformat(p["birthDate"]))
                  for p in patients[:: max(1, len(patients) // LOOKUPS)]]  # fmt: skip
        rows = [("agent (FhirConnector + ScheduleCache.find)", agent_pull(url, day, people)),
                ("baseline (json.loads + dict)", bare_pull(url, people))]  # fmt: skip
    finally:
        server.terminate()
        server.wait()
    print(f"{args.appointments} appointments with Patients, Coverage (2 in 3), Consents (1 in 2); "
          f"pages of {PAGE}; {len(people)} lookups")  # fmt: skip
    print(f"{'':45} {'pull s':>8} {'peak MB':>8} {'lookup p50 us':>14} {'p99 us':>8} {'appointments':>12}")
    for name, (elapsed, peak, p50, p99, found) in rows:
        print(f"{name:45} {elapsed:8.2f} {peak / 1e6:8.1f} {p50:14.1f} {p99:8.1f} {found:12}")


if __name__ == "__main__":
    main()
