"""Today's schedule from the central FHIR server: Appointments with their Patients and Coverage."""

from __future__ import annotations

import datetime as dt

import pytest

from lobby_core.appointments import PriorDecision
from edge_agent.central import ScheduleUnavailable
from edge_agent.config import DEFAULT_CONSENTS_DIR
from edge_agent.consents.documents import ConsentLibrary
from edge_agent.consents.due import policy_uri
from tests.sandbox import wait_until
from tools.central_seed import day_schedule

from .conftest import pull_schedule


def test_schedule_pull_maps_patients_and_coverage(sandbox, tmp_path):
    today = dt.date.today()
    resources = day_schedule(today, 6, timezone="America/Chicago")
    *_, seventh_patient, seventh_appointment = day_schedule(today, 7, timezone="America/Chicago")
    cancelled = [seventh_patient, {**seventh_appointment, "status": "cancelled"}]
    other_day = {**resources[1], "id": "appt-tomorrow", "start": (dt.datetime.fromisoformat(resources[1]["start"])
                                                                   + dt.timedelta(days=1)).isoformat()}
    sandbox.seed(resources + cancelled + [other_day])
    by_id = {f"{r['resourceType']}/{r['id']}": r for r in resources}

    schedule = pull_schedule(sandbox.url, tmp_path / "agent", today)

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
    sandbox.fault("status", status=400, diagnostics="_revinclude not supported", methods=["GET"],
                  path_prefix="/Appointment")
    schedule = pull_schedule(sandbox.url, tmp_path / "agent", dt.date.today())
    assert len(schedule) == 3 and all(a.coverage is None for a in schedule)


@pytest.mark.parametrize("fault", [{"mode": "status", "status": 503}, {"mode": "reset"}], ids=["503", "reset"])
def test_schedule_unavailable_when_central_fails(sandbox, tmp_path, fault):
    sandbox.seed(day_schedule(dt.date.today(), 3))
    sandbox.fault(**fault, methods=["GET"])
    with pytest.raises(ScheduleUnavailable):
        pull_schedule(sandbox.url, tmp_path / "agent", dt.date.today())


def test_schedule_unavailable_when_central_is_down(tmp_path):
    with pytest.raises(ScheduleUnavailable):
        pull_schedule("http://127.0.0.1:9", tmp_path / "agent", dt.date.today())


def central_consent(patient_id: str, document_id: str, version: str, status: str, when: dt.datetime) -> dict:
    """A Consent as the central system holds it: signed at another site, naming our document in `policy`."""
    return {
        "resourceType": "Consent", "id": f"c-{patient_id}-{document_id}", "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"}, "dateTime": when.isoformat(),
        "policy": [{"uri": policy_uri(document_id, version)}],
    }  # fmt: skip


def test_consents_held_at_central_come_with_the_schedule(sandbox, tmp_path):
    today = dt.date.today()
    when = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.timezone.utc)
    sandbox.seed(day_schedule(today, 3) + [
        central_consent("pat-1", "consent-to-treat", "2025.1", "active", when),
        central_consent("pat-1", "telehealth", "2024.3", "rejected", when),
    ])  # fmt: skip
    by_patient = {a.patient_id: a for a in pull_schedule(sandbox.url, tmp_path / "agent", today)}
    assert set(by_patient["pat-1"].central_consents) == {
        PriorDecision("consent-to-treat", "2025.1", "accepted", when),
        PriorDecision("telehealth", "2024.3", "declined", when),
    }
    assert by_patient["pat-0"].central_consents == () and by_patient["pat-2"].central_consents == ()


def test_a_form_signed_at_another_site_is_not_asked_again_at_this_kiosk(sandbox, agent_factory):
    today = dt.datetime.now(dt.timezone.utc).date()
    resources = day_schedule(today, 2)
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    documents = ConsentLibrary(DEFAULT_CONSENTS_DIR).current()
    a_month_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    signed_elsewhere = [central_consent("pat-0", d.id, d.version, "active", a_month_ago) for d in documents.values()]
    sandbox.seed(resources + signed_elsewhere)
    agent = agent_factory(sandbox.url)
    agent.start()
    wait_until(lambda: agent.health()["schedule_appointments"] == 2, 30, "today's schedule from central")

    def forms_due(patient_id: str) -> set[str]:
        patient = patients[patient_id]
        answer = agent.post("lookup", {"family": patient["name"][0]["family"], "given": patient["name"][0]["given"][0],
                                       "birth_date": patient["birthDate"]})  # fmt: skip
        assert answer.status_code == 200 and answer.json()["outcome"] == "matched", answer.text
        return {form["document_id"] for form in answer.json()["appointment"]["forms_due"]}

    nothing_on_file = forms_due("pat-1")
    assert {"privacy-notice", "consent-to-treat", "financial-responsibility"} <= nothing_on_file
    assert forms_due("pat-0") == {d for d in nothing_on_file if documents[d].frequency == "every_visit"}
