"""Today's schedule from the central FHIR server: Appointments with their Patients and Coverage."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from edge_agent.central import ScheduleUnavailable, connector_for
from tools.central_seed import day_schedule

from .conftest import site_config


def pull(sandbox_url: str, tmp_path, day: dt.date):
    connector = connector_for(site_config(tmp_path / "agent", sandbox_url))

    async def run():
        try:
            return await connector.fetch_schedule(day)
        finally:
            await connector.aclose()

    return asyncio.run(run())


def test_schedule_pull_maps_patients_and_coverage(sandbox, tmp_path):
    today = dt.date.today()
    resources = day_schedule(today, 6, timezone="America/Chicago")
    *_, seventh_patient, seventh_appointment = day_schedule(today, 7, timezone="America/Chicago")
    cancelled = [seventh_patient, {**seventh_appointment, "status": "cancelled"}]
    other_day = {**resources[1], "id": "appt-tomorrow", "start": (dt.datetime.fromisoformat(resources[1]["start"])
                                                                   + dt.timedelta(days=1)).isoformat()}
    sandbox.seed(resources + cancelled + [other_day])
    by_id = {f"{r['resourceType']}/{r['id']}": r for r in resources}

    schedule = pull(sandbox.url, tmp_path, today)

    assert [a.appointment_id for a in schedule] == [f"appt-{n}" for n in range(6)]  # by start, cancelled left out
    for n, appointment in enumerate(schedule):
        patient = by_id[f"Patient/pat-{n}"]
        assert appointment.patient_id == f"pat-{n}"
        assert (appointment.family, appointment.given) == (patient["name"][0]["family"], patient["name"][0]["given"][0])
        assert appointment.birth_date.isoformat() == patient["birthDate"]
        assert appointment.mrn == f"MRN{100000 + n}"
        assert appointment.start.utcoffset() is not None
        assert appointment.clinician.startswith("Dr. ") and appointment.location.startswith("Suite ")
        assert appointment.demographics.address.city == "Springfield"
        if n % 3:
            coverage = by_id[f"Coverage/cov-{n}"]
            assert appointment.coverage.member_id == coverage["subscriberId"]
            assert appointment.coverage.group == "G-100" and appointment.coverage.source == "file"
        else:
            assert appointment.coverage is None


def test_a_server_without_coverage_search_still_gives_the_schedule(sandbox, tmp_path):
    sandbox.seed(day_schedule(dt.date.today(), 3))
    sandbox.fault("status", status=400, diagnostics="_revinclude not supported", methods=["GET"])
    schedule = pull(sandbox.url, tmp_path, dt.date.today())
    assert len(schedule) == 3 and all(a.coverage is None for a in schedule)


@pytest.mark.parametrize("fault", [{"mode": "status", "status": 503}, {"mode": "reset"}], ids=["503", "reset"])
def test_schedule_unavailable_when_central_fails(sandbox, tmp_path, fault):
    sandbox.seed(day_schedule(dt.date.today(), 3))
    sandbox.fault(**fault, methods=["GET"])
    with pytest.raises(ScheduleUnavailable):
        pull(sandbox.url, tmp_path, dt.date.today())


def test_schedule_unavailable_when_central_is_down(tmp_path):
    with pytest.raises(ScheduleUnavailable):
        pull("http://127.0.0.1:9", tmp_path, dt.date.today())
