"""One patient with several appointments today: which one the lookup gives the kiosk, end to end.

The agent picks (edge_agent/kiosk_api.py `_next_of`): the earliest appointment that has not started
more than an hour ago, else the day's earliest; a reminder QR picks its own appointment among the
patient's. The kiosk has no choice step: it shows the one appointment the lookup returns.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import httpx

from lobby_core import reminder
from tests.sandbox import wait_until
from tools.central_seed import day_schedule

from .helpers import checkin_body, count_rows


def midday_zone(now: dt.datetime) -> str:
    """A fixed-offset zone where it is about noon now, so that a few hours either way stay today."""
    offset = 12 - now.astimezone(dt.UTC).hour  # -11 .. +12 hours
    return f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-5 is UTC+5


def appointment_at(template: dict, appointment_id: str, start: dt.datetime) -> dict:
    start = start.replace(microsecond=0)
    return {**template, "id": appointment_id, "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=15)).isoformat()}  # fmt: skip


def test_the_lookup_gives_the_current_appointment_and_a_reminder_picks_its_own(launch_agent, sandbox) -> None:
    now = dt.datetime.now(dt.UTC)
    zone = midday_zone(now)
    patient_a, appointment_a, patient_b, appointment_b, *_ = day_schedule(now.date(), 2, timezone=zone)
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    hour = dt.timedelta(hours=1)
    sandbox.seed([
        patient_a,
        appointment_at(appointment_a, "a-long-past", local - 2 * hour),
        appointment_at(appointment_a, "a-late-for", local - hour / 2),  # started half an hour ago
        appointment_at(appointment_a, "a-this-afternoon", local + 3 * hour),
        patient_b,
        appointment_at(appointment_b, "b-second", local - 2 * hour),
        appointment_at(appointment_b, "b-first", local - 3 * hour),
    ])  # fmt: skip
    key = reminder.new_private_key()
    agent = launch_agent(
        site={"timezone": zone}, central={"kind": "fhir", "base_url": sandbox.url},
        schedule={"source": "central", "scope": "whole-server"}, kiosk={"reminder_public_key": reminder.public_key_b64(key)},
    )  # fmt: skip
    wait_until(lambda: httpx.get(f"{agent.base_url}/healthz", timeout=5).json()["schedule_appointments"] == 5,
               30, "the schedule pull")  # fmt: skip

    def identity(patient: dict) -> dict:
        name = patient["name"][0]
        return {"family": name["family"], "given": name["given"][0], "birth_date": patient["birthDate"]}

    def looked_up(body: dict) -> dict:
        with agent.client() as client:
            response = client.post("/api/v1/lookup", json=body, headers=agent.headers())
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "matched"
        return response.json()["appointment"]

    current = looked_up(identity(patient_a))
    assert current["appointment_id"] == "a-late-for"
    assert dt.datetime.fromisoformat(current["start"]) == (local - hour / 2).replace(microsecond=0)
    assert looked_up(identity(patient_b))["appointment_id"] == "b-first"  # all long past: the day's first

    token = reminder.sign(key, "test-site", "a-this-afternoon", now + 24 * hour)
    assert looked_up({**identity(patient_a), "reminder_token": token})["appointment_id"] == "a-this-afternoon"
    elsewhere = reminder.sign(key, "test-site", "b-first", now + 24 * hour)  # someone else's appointment
    assert looked_up({**identity(patient_a), "reminder_token": elsewhere})["appointment_id"] == "a-late-for"

    body = checkin_body(appointment_index=None, appointment_id="a-late-for", patient=identity(patient_a))
    with agent.client() as client:
        response = client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": str(uuid.uuid4())}))
    assert response.status_code == 201, response.text
    assert response.json()["flags"] == []  # neither no_appointment nor identity_mismatch
    assert count_rows(agent.store_path, "arrivals", "appointment_id = ?", ("a-late-for",)) == 1
    assert count_rows(agent.store_path, "arrivals") == 1
