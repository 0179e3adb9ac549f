"""Two sites of one organisation on one FHIR server: each agent asks for its own location's appointments
of its own day (in its time zone), and the other site's patients never reach it: not in its cache,
not in any answer the server gave it. Against the sandbox and Medplum; also `central check` and the
start-up refusals."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from tests.agent.launcher import run_cli, site_toml
from tests.processes import free_port
from tests.sync.conftest import pull_schedule
from tools.central_seed import day_schedule

from .servers import start_server

TIMEZONE = "America/Chicago"


def site_resources(day: dt.date, site: str, count: int) -> list[dict]:
    """`count` appointments at Location/<site>, patients and coverage named after the site."""
    resources = []
    for resource in day_schedule(day, count, timezone=TIMEZONE, seed={"north": 1, "south": 2}[site]):
        resource = {**resource, "id": f"{site}-{resource['id']}"}
        if resource["resourceType"] == "Appointment":
            resource["participant"] = [
                {"actor": {"reference": f"Patient/{site}-{p['actor']['reference'].split('/')[1]}"}, "status": "accepted"}
                if p["actor"]["reference"].startswith("Patient/") else
                {"actor": {"reference": f"Location/{site}", "display": f"{site} clinic"}, "status": "accepted"}
                if p["actor"]["reference"].startswith("Location/") else p
                for p in resource["participant"]
            ]  # fmt: skip
        if resource["resourceType"] == "Coverage":
            resource["beneficiary"] = {"reference": f"Patient/{site}-{resource['beneficiary']['reference'].split('/')[1]}"}
        resources.append(resource)
    return resources


@pytest.mark.parametrize("server_name", ["sandbox", "medplum"])
def test_each_site_pulls_only_its_own_appointments(server_name, tmp_path):
    server = start_server(server_name, tmp_path)
    try:
        today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
        north, south = site_resources(today, "north", 7), site_resources(today, "south", 5)
        server.seed(north + south)
        pulled = pull_schedule(server.url, tmp_path / "north", today, {"locations": ["Location/north"]}, TIMEZONE)
        assert sorted(a.patient_id for a in pulled) == sorted(r["id"] for r in north if r["resourceType"] == "Patient")
        returned = {ref for search in server.searches() for ref in search["returned"]}
        assert returned and not any(ref.split("/")[1].startswith("south-") for ref in returned)
        appointment_searches = [s["url"] for s in server.searches() if s["url"].startswith("Appointment?")]
        assert all("location=Location%2Fnorth" in url and "-06%3A00" in url for url in appointment_searches), appointment_searches
    finally:
        server.stop()


def test_the_schedule_pages_through_next_links(tmp_path):
    server = start_server("sandbox", tmp_path)
    try:
        today = dt.date.today()
        server.seed(day_schedule(today, 450))
        pulled = pull_schedule(server.url, tmp_path / "agent", today)
        assert len(pulled) == 450
        assert len([s for s in server.searches() if s["url"].startswith("Appointment?")]) == 3  # 200 + 200 + 50
    finally:
        server.stop()


def central_site(tmp_path, url: str, capabilities: dict, schedule: dict | None = None):
    path = tmp_path / "site.toml"
    path.write_text(site_toml({
        "site": {"id": "north", "timezone": TIMEZONE},
        "agent": {"data_dir": str(tmp_path / "data"), "listen": f"127.0.0.1:{free_port()}", "advertise": False},
        "central": {"kind": "fhir", "base_url": url, "timeout_s": 5},
        "central.capabilities": capabilities,
        "schedule": schedule or {"source": "central", "locations": ["Location/north"]},
    }))  # fmt: skip
    return path


@pytest.mark.parametrize(("server_name", "capabilities", "expected"), [
    ("sandbox", {}, "delivery strategy: transaction"),
    ("sandbox-no-transactions", {}, "delivery strategy: individual"),
    ("medplum", {}, "delivery strategy: split-transactions (ordered transactions of at most 8 entries each"),
])  # fmt: skip
def test_central_check_names_the_strategy(server_name, capabilities, expected, tmp_path):
    server = start_server(server_name, tmp_path)
    try:
        done = run_cli(central_site(tmp_path, server.url, capabilities), "central", "check", check=False)
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout and "schedule scope: location=Location/north" in done.stdout
    finally:
        server.stop()


@pytest.mark.parametrize(("server_name", "capabilities", "said"), [
    ("sandbox-no-transactions", {"strategy": "transaction"}, "does not support transactions"),
    ("medplum", {"strategy": "transaction"}, "at most 8 entries per transaction"),
    ("sandbox", {"conditional_create": False, "strategy": "individual"}, "exactly-once delivery needs it"),
])  # fmt: skip
def test_a_strategy_the_server_cannot_do_is_refused(server_name, capabilities, said, tmp_path):
    server = start_server(server_name, tmp_path)
    try:
        site = central_site(tmp_path, server.url, capabilities)
        check = run_cli(site, "central", "check", check=False)
        assert check.returncode == 1 and said in check.stderr and "refused: central.capabilities.strategy" in check.stderr
        serve = run_cli(site, "serve", check=False, timeout=60)
        assert serve.returncode != 0 and "central cannot do what the site asks" in serve.stderr and said in serve.stderr
    finally:
        server.stop()


def test_central_schedule_without_a_scope_is_a_config_error(tmp_path):
    site = central_site(tmp_path, "http://127.0.0.1:9", {}, {"source": "central"})
    done = run_cli(site, "serve", check=False)
    assert done.returncode == 2 and "schedule.locations" in done.stderr and "whole-server" in done.stderr
