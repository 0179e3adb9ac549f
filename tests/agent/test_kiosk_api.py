"""The kiosk API against a real agent process: auth, lookup, check-in, idempotency, errors, board."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import sqlite3
import uuid
import zoneinfo

import httpx
import pytest

from edge_agent.schedule import demo_appointments
from lobby_core.appointments import ScheduledAppointment

from .helpers import GARCIA, checkin_body, count_rows
from .launcher import RunningAgent, today_demo_appointment_id


def post(agent: RunningAgent, path: str, body=None, token: str | None = None, **headers) -> httpx.Response:
    with agent.client() as client:
        return client.post(path, json=body, headers=agent.headers(token, **headers))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}])
@pytest.mark.parametrize("path", ["/api/v1/lookup", "/api/v1/checkins", "/api/v1/kiosks/heartbeat", "/api/v1/help"])
def test_kiosk_routes_need_a_valid_token(shared_agent: RunningAgent, path: str, headers: dict) -> None:
    with shared_agent.client() as client:
        response = client.post(path, json={"family": "x"}, headers={**headers, "Idempotency-Key": "k"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "family, given, birth_date, index, shown",  # demo appointment `index` (edge_agent/schedule.py DEMO_PATIENTS)
    [
        ("GARCIA LOPEZ", "MARIA JOSE", "1956-03-14", 1, "María G."),  # case and accents
        ("garcia-lopez", "maria", "1956-03-14", 1, "María G."),  # hyphen for a space, first given name only
        ("Garcia", "M.", "1956-03-14", 1, "María G."),  # first of a compound surname, initial
        ("GarcíaLópez", "", "1956-03-14", 1, "María G."),  # spaces missing, surname + birth date only
        ("oneil smith", "jean luc", "1971-11-02", 2, "Jean-Luc O."),  # apostrophe and hyphens
        ("Van Der Berg", "P", "1965-09-17", 7, "Pieter V."),  # particles
    ],
)
def test_lookup_matches_normalised_names(shared_agent: RunningAgent, family: str, given: str, birth_date: str,
                                         index: int, shown: str) -> None:  # fmt: skip
    response = post(shared_agent, "/api/v1/lookup", {"family": family, "given": given, "birth_date": birth_date})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["outcome"] == "matched"
    assert answer["appointment"]["appointment_id"] == today_demo_appointment_id(index)
    assert answer["appointment"]["display_name"] == shown


def test_lookup_match_carries_only_that_patients_details(shared_agent: RunningAgent) -> None:
    answer = post(shared_agent, "/api/v1/lookup", {"family": "Garcia", "given": "Maria", "birth_date": "1956-03-14"}).json()
    assert answer["appointment"]["display_name"] == "María G."
    assert answer["appointment"]["clinician"] == "Dr. Patel"
    assert "Nguyen" not in str(answer) and "Smith" not in str(answer)


def seeded_appointment(index: int = 1) -> ScheduledAppointment:
    """The demo schedule the test agent serves today (site test-site, UTC): its file data, to look for."""
    return demo_appointments("test-site", dt.datetime.now(dt.UTC).date(), zoneinfo.ZoneInfo("UTC"))[index - 1]


def test_lookup_answers_endings_of_the_file_never_the_file(shared_agent: RunningAgent) -> None:
    """Knowing a surname and a birth date must not be enough to learn a street, phone or member id."""
    on_file = seeded_appointment(1)
    assert on_file.demographics.address is not None and on_file.coverage is not None
    street, phone, member_id = on_file.demographics.address.street, on_file.demographics.phone, on_file.coverage.member_id
    response = post(shared_agent, "/api/v1/lookup", {"family": "Garcia", "given": "Maria", "birth_date": "1956-03-14"})
    assert response.status_code == 200 and response.json()["outcome"] == "matched"
    raw = response.text
    phone_digits = "".join(ch for ch in phone if ch.isdigit())
    for secret in (street, street.split()[-2], phone, phone_digits, phone_digits[-4:], member_id, member_id[-4:],
                   on_file.birth_date.isoformat(), "1956", on_file.demographics.address.postal_code, "Springfield"):  # fmt: skip
        assert secret not in raw, secret
    hints = response.json()["appointment"]["on_file"]
    assert hints == {
        "street_ending": "".join(ch for ch in street if ch.isdigit())[-2:], "phone_ending": phone_digits[-2:],
        "member_id_ending": member_id[-3:], "payer": on_file.coverage.payor,
    }  # fmt: skip


@pytest.mark.parametrize(
    "body, outcome",
    [
        ({"family": "Garcia Lopez", "given": "Maria", "birth_date": "1956-03-15"}, "none"),  # birth date off by one
        ({"family": "Garcia", "given": "Carmen", "birth_date": "1956-03-14"}, "none"),
        ({"family": "Nguyen", "given": "", "birth_date": "1990-07-21"}, "ambiguous"),  # two patients
        ({"family": "nguyen", "given": "A", "birth_date": "1990-07-21"}, "ambiguous"),
    ],
)
def test_lookup_none_and_ambiguous_reveal_nothing(shared_agent: RunningAgent, body: dict, outcome: str) -> None:
    response = post(shared_agent, "/api/v1/lookup", body)
    assert response.status_code == 200
    assert response.json() == {"outcome": outcome, "appointment": None}


def test_lookup_tells_twins_apart_by_given_name(shared_agent: RunningAgent) -> None:
    answer = post(shared_agent, "/api/v1/lookup", {"family": "Nguyen", "given": "Anh", "birth_date": "1990-07-21"}).json()
    assert answer["outcome"] == "matched" and answer["appointment"]["display_name"] == "Anh N."


def test_lookup_bad_date_is_a_422_naming_the_field(shared_agent: RunningAgent) -> None:
    response = post(shared_agent, "/api/v1/lookup", {"family": "Smith", "birth_date": "1975-13-01"})
    assert response.status_code == 422
    assert response.json()["field"] == "birth_date"


def test_checkin_answers_ticket_position_and_wait(shared_agent: RunningAgent) -> None:
    body = checkin_body()
    response = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["checkin_id"] == body["checkin_id"]
    assert answer["ticket"].startswith("A-") and answer["position"] >= 1 and answer["estimated_wait_min"] >= 0
    assert count_rows(shared_agent.store_path, "arrivals", "checkin_id = ?", (body["checkin_id"],)) == 1
    assert count_rows(shared_agent.store_path, "outbox", "aggregate_id = ?", (body["checkin_id"],)) == 1


def test_retry_with_same_key_returns_same_answer_and_stores_nothing_new(shared_agent: RunningAgent) -> None:
    body, key = checkin_body(appointment_index=None), str(uuid.uuid4())  # a walk-in: a visit per check-in
    first = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": key})
    before = {t: count_rows(shared_agent.store_path, t) for t in ("arrivals", "outbox", "idempotency")}
    again = [post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": key}) for _ in range(3)]
    assert first.status_code == 201
    assert all(r.status_code == 200 and r.content == first.content for r in again)
    assert {t: count_rows(shared_agent.store_path, t) for t in before} == before


def test_same_key_with_another_body_is_a_409(shared_agent: RunningAgent) -> None:
    key = str(uuid.uuid4())
    assert post(shared_agent, "/api/v1/checkins", checkin_body(appointment_index=None), **{"Idempotency-Key": key}).status_code == 201
    other = checkin_body(appointment_index=None)
    response = post(shared_agent, "/api/v1/checkins", other, **{"Idempotency-Key": key})
    assert response.status_code == 409 and response.json()["error"] == "idempotency_key_reused"
    assert count_rows(shared_agent.store_path, "arrivals", "checkin_id = ?", (other["checkin_id"],)) == 0


def test_checkin_without_idempotency_key_is_a_400(shared_agent: RunningAgent) -> None:
    response = post(shared_agent, "/api/v1/checkins", checkin_body())
    assert response.status_code == 400 and response.json()["error"] == "idempotency_key_required"


@pytest.mark.parametrize(
    "content, field",
    [
        (b'{"checkin_id": "6a1f8f8e-0d5e-4c39', None),  # cut off
        (b"not json at all", None),
        (b'{"checkin_id": "not-a-uuid", "kiosk_id": "kiosk-1", "appointment_id": null, "identity_source": "manual",'
         b' "patient": {"family": "X", "birth_date": "1950-01-01"}}', "checkin_id"),
        (b'{"checkin_id": "6a1f8f8e-0d5e-4c39-9d3b-0a6c1d3f1e99", "kiosk_id": "kiosk-1", "appointment_id": null,'
         b' "identity_source": "manual", "patient": {"family": "X", "birth_date": 19500101}}', "patient.birth_date"),
        (b'{"checkin_id": "6a1f8f8e-0d5e-4c39-9d3b-0a6c1d3f1e98", "kiosk_id": "kiosk-1", "appointment_id": null,'
         b' "identity_source": "fax", "patient": {"family": "X", "birth_date": "1950-01-01"}}', "identity_source"),
    ],
)
def test_malformed_checkin_is_a_422_and_stores_nothing(shared_agent: RunningAgent, content: bytes, field) -> None:
    before = count_rows(shared_agent.store_path, "arrivals")
    with shared_agent.client() as client:
        response = client.post(
            "/api/v1/checkins", content=content,
            headers=shared_agent.headers(**{"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}),
        )  # fmt: skip
    assert response.status_code == 422
    problem = response.json()
    assert set(problem) == {"error", "message", "field"} and problem["field"] == field
    assert count_rows(shared_agent.store_path, "arrivals") == before


def test_consent_with_wrong_text_hash_is_a_422_and_stores_nothing(shared_agent: RunningAgent) -> None:
    body = checkin_body(consents=[{
        "document_id": "privacy-notice", "version": "2025.1", "language": "en", "text_sha256": "0" * 64,
        "decision": "declined", "signed_at": "2026-01-01T10:00:00+00:00", "kiosk_id": "kiosk-1",
    }])  # fmt: skip
    response = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 422 and response.json()["error"] == "consent_text_mismatch"
    assert count_rows(shared_agent.store_path, "arrivals", "checkin_id = ?", (body["checkin_id"],)) == 0
    assert count_rows(shared_agent.store_path, "consents", "checkin_id = ?", (body["checkin_id"],)) == 0


def test_checkin_for_another_kiosk_id_is_refused(shared_agent: RunningAgent) -> None:
    response = post(shared_agent, "/api/v1/checkins", checkin_body(kiosk_id="kiosk-9"), **{"Idempotency-Key": "x1"})
    assert response.status_code == 403 and response.json()["field"] == "kiosk_id"


def arrival_flags(agent: RunningAgent, checkin_id: str) -> set[str]:
    conn = sqlite3.connect(f"file:{agent.store_path}?mode=ro", uri=True, timeout=30)
    try:
        return set(json.loads(conn.execute("SELECT flags FROM arrivals WHERE checkin_id = ?", (checkin_id,)).fetchone()[0]))
    finally:
        conn.close()


def test_flags_for_walk_in_with_new_insurance_offline(shared_agent: RunningAgent) -> None:
    spooled_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7)).isoformat(timespec="milliseconds")
    body = checkin_body(
        appointment_index=None,
        coverage={"payor": "Acme", "member_id": "Z1"},
        offline={"kiosk_ticket": "K1-007", "spooled_at": spooled_at},
    )
    answer = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())}).json()
    assert answer["ticket"] == "K1-007"  # the ticket the offline kiosk already printed
    assert answer["flags"] == ["offline_spool"]  # the kiosk hears only of what it sent itself
    assert {"no_appointment", "insurance_changed", "offline_spool"} <= arrival_flags(shared_agent, body["checkin_id"])
    # The patient arrived when the kiosk spooled the check-in, not when it was forwarded.
    assert count_rows(shared_agent.store_path, "arrivals", "checkin_id = ? AND arrived_at = ?",
                      (body["checkin_id"], spooled_at)) == 1  # fmt: skip


def test_a_spooled_check_in_with_another_patients_identity_is_kept_for_the_desk_apart_from_that_visit(launch_agent) -> None:
    """Offline, the kiosk could not look the patient up: a wrong identity on a real appointment is not
    refused (the patient has a ticket and has gone), not attached to that appointment, and answered as an
    unknown appointment id is, so the answer tells nothing about the file."""
    agent = launch_agent()
    appointment = seeded_appointment(4)
    spooled = {"kiosk_ticket": "K1-011", "spooled_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}
    stranger = {"family": "Smith", "given": "John", "birth_date": "1975-04-01"}
    wrong = checkin_body(appointment_index=4, patient=stranger, offline=spooled)
    unknown = checkin_body(appointment_id="demo-19990101-001", patient=stranger, offline={**spooled, "kiosk_ticket": "K1-012"})
    answers = [post(agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())}) for body in (wrong, unknown)]
    assert [answer.status_code for answer in answers] == [201, 201], [answer.text for answer in answers]
    assert [answer.json()["flags"] for answer in answers] == [["offline_spool"], ["offline_spool"]]
    assert "identity_mismatch" in arrival_flags(agent, wrong["checkin_id"])
    assert count_rows(agent.store_path, "arrivals", "appointment_id = ?", (appointment.appointment_id,)) == 0
    patient = {"family": appointment.family, "given": appointment.given, "birth_date": appointment.birth_date.isoformat()}
    own = post(agent, "/api/v1/checkins", checkin_body(appointment_index=4, patient=patient), **{"Idempotency-Key": str(uuid.uuid4())})
    assert own.status_code == 201 and "already_checked_in" not in own.json()["flags"], own.text  # the visit is still free


def test_changes_against_the_file_are_the_desks_alone(shared_agent: RunningAgent) -> None:
    """What the card and the ID say is compared with the file on the agent: the desk is told, the kiosk
    is not (a flag would say what is on file)."""
    body = checkin_body(
        appointment_index=3, patient={"family": "Nguyễn", "given": "Anh", "birth_date": "1990-07-21"},
        coverage={"payor": "Acme", "member_id": "Z1"},
        demographics={"address": {"street": "1 Nowhere Lane", "postal_code": "99999"}}, details_changed=True,
    )  # fmt: skip
    response = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    assert response.json()["flags"] == []
    assert {"insurance_changed", "demographics_changed", "details_changed"} <= arrival_flags(shared_agent, body["checkin_id"])


def test_an_identity_that_does_not_match_its_appointment_is_refused(shared_agent: RunningAgent) -> None:
    wrong = checkin_body(patient={"family": "Smith", "given": "John", "birth_date": "1975-04-01"})
    unknown = checkin_body(appointment_id="demo-19990101-001")  # no such appointment: the same answer
    for body in (wrong, unknown):
        response = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 422 and response.json()["error"] == "identity_mismatch", response.text
        assert count_rows(shared_agent.store_path, "arrivals", "checkin_id = ?", (body["checkin_id"],)) == 0


def test_guessed_birth_dates_on_one_appointment_are_throttled_from_any_kiosk(launch_agent) -> None:
    """25 guesses at appointment 1's birth date, alternating two kiosks: the appointment's bucket (the
    lookup's limit, 20 a minute) runs out, and then even the right birth date gets the same 429."""
    agent = launch_agent()
    tokens = {"kiosk-1": agent.token, "kiosk-2": agent.enroll("kiosk-2")}
    real = dt.date.fromisoformat(GARCIA["birth_date"])
    guesses = [real - dt.timedelta(days=n) for n in range(1, 26)]
    answers = []
    for number, guess in enumerate(guesses):
        kiosk = "kiosk-1" if number % 2 == 0 else "kiosk-2"
        body = checkin_body(kiosk_id=kiosk, patient={**GARCIA, "birth_date": guess.isoformat()})
        answers.append(post(agent, "/api/v1/checkins", body, token=tokens[kiosk], **{"Idempotency-Key": str(uuid.uuid4())}))
    statuses = [answer.status_code for answer in answers]
    assert 429 in statuses, statuses
    first_limited = statuses.index(429)
    assert set(statuses[:first_limited]) == {422} and set(statuses[first_limited:]) == {429}, statuses
    assert first_limited <= 20
    limited = answers[-1]
    assert limited.json()["error"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    right = checkin_body(kiosk_id="kiosk-2")  # the right identity now: no answer that would confirm it
    response = post(agent, "/api/v1/checkins", right, token=tokens["kiosk-2"], **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 429 and "retry-after" in response.headers
    assert count_rows(agent.store_path, "arrivals") == 0
    # Per appointment: kiosk-2 has guessed about a dozen times, and can still check in another patient.
    other = checkin_body(kiosk_id="kiosk-2", appointment_index=2,
                         patient={"family": "O'Neil-Smith", "given": "Jean-Luc", "birth_date": "1971-11-02"})  # fmt: skip
    response = post(agent, "/api/v1/checkins", other, token=tokens["kiosk-2"], **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text


def test_lookups_and_checkins_share_the_kiosks_limit(launch_agent) -> None:
    agent = launch_agent(agent={"lookup_rate_per_minute": 3})
    probe = {"family": "Smith", "given": "J", "birth_date": "1975-04-01"}
    assert [post(agent, "/api/v1/lookup", probe).status_code for _ in range(3)] == [200, 200, 200]
    response = post(agent, "/api/v1/checkins", checkin_body(), **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 429 and response.json()["error"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    other_token = agent.enroll("kiosk-2")
    response = post(agent, "/api/v1/checkins", checkin_body(kiosk_id="kiosk-2"), token=other_token,
                    **{"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert response.status_code == 201, response.text


def test_concurrent_checkins_get_unique_sequential_tickets(launch_agent) -> None:
    agent = launch_agent()
    bodies = [checkin_body(appointment_index=None) for _ in range(60)]  # walk-ins: 60 visits

    def submit(body: dict) -> dict:
        with httpx.Client(base_url=agent.base_url, timeout=60) as client:
            response = client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": body["checkin_id"]}))
        assert response.status_code == 201, response.text
        return response.json()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(submit, bodies))
    tickets = sorted(answer["ticket"] for answer in answers)
    assert tickets == [f"A-{n:03d}" for n in range(1, 61)]
    assert sorted(answer["position"] for answer in answers) == list(range(1, 61))
    assert count_rows(agent.store_path, "arrivals") == 60 == count_rows(agent.store_path, "outbox")


def test_heartbeat_and_help(shared_agent: RunningAgent) -> None:
    beat = {"kiosk_id": "kiosk-1", "app_version": "1.0", "spool_depth": 2,
            "devices": [{"name": "printer", "kind": "receipt_printer", "state": "degraded", "reason": "paper low"}]}
    assert post(shared_agent, "/api/v1/kiosks/heartbeat", beat).status_code == 204
    assert count_rows(shared_agent.store_path, "kiosks", "kiosk_id = 'kiosk-1' AND last_seen_at IS NOT NULL") == 1
    assert post(shared_agent, "/api/v1/help", {"kiosk_id": "kiosk-1", "screen": "review"}).status_code == 202


def test_board_shows_tickets_but_never_names_or_birth_dates(shared_agent: RunningAgent) -> None:
    post(shared_agent, "/api/v1/checkins", checkin_body(appointment_index=None), **{"Idempotency-Key": str(uuid.uuid4())})
    with shared_agent.client() as client:
        public = client.get("/api/v1/board")
        with_token = client.get("/api/v1/board", headers=shared_agent.headers())
    assert public.status_code == with_token.status_code == 200
    board = public.json()
    assert board["clinic_name"] == "Test Clinic" and board["waiting"]
    raw = public.content + with_token.content
    for secret in ("García", "Garc", "María", "Maria", "1956", "03-14", "Lopez", "López", "Smith"):
        assert secret.encode() not in raw


def test_lookup_is_rate_limited_per_kiosk(launch_agent) -> None:
    agent = launch_agent(agent={"lookup_rate_per_minute": 3})
    other_token = agent.enroll("kiosk-2")
    probe = {"family": "Smith", "given": "J", "birth_date": "1975-04-01"}
    statuses = [post(agent, "/api/v1/lookup", probe).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = post(agent, "/api/v1/lookup", probe)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    assert post(agent, "/api/v1/lookup", probe, token=other_token).status_code == 200  # per kiosk


def test_checkin_id_reused_under_another_key_is_a_409(shared_agent: RunningAgent) -> None:
    body = checkin_body(appointment_index=None)
    assert post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())}).status_code == 201
    response = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 409 and response.json()["error"] == "checkin_id_reused"
    assert count_rows(shared_agent.store_path, "arrivals", "checkin_id = ?", (body["checkin_id"],)) == 1
    assert count_rows(shared_agent.store_path, "outbox", "aggregate_id = ?", (body["checkin_id"],)) == 1


def test_oversized_checkin_is_a_413_and_stores_nothing(shared_agent: RunningAgent) -> None:
    before = count_rows(shared_agent.store_path, "arrivals")
    body = checkin_body(answers=[{"link_id": f"q{n}", "value": "x" * 1000} for n in range(100)])
    body["padding"] = "y" * 9_000_000
    response = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    assert count_rows(shared_agent.store_path, "arrivals") == before
