"""The kiosk API against a real agent process: auth, lookup, check-in, idempotency, errors, board."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import uuid

import httpx
import pytest

from .helpers import checkin_body, count_rows
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


def test_flags_for_walk_in_with_new_insurance_offline(shared_agent: RunningAgent) -> None:
    spooled_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7)).isoformat(timespec="milliseconds")
    body = checkin_body(
        appointment_index=None,
        coverage={"payor": "Acme", "member_id": "Z1"},
        offline={"kiosk_ticket": "K1-007", "spooled_at": spooled_at},
    )
    answer = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())}).json()
    assert answer["ticket"] == "K1-007"  # the ticket the offline kiosk already printed
    assert {"no_appointment", "insurance_changed", "offline_spool"} <= set(answer["flags"])
    # The patient arrived when the kiosk spooled the check-in, not when it was forwarded.
    assert count_rows(shared_agent.store_path, "arrivals", "checkin_id = ? AND arrived_at = ?",
                      (body["checkin_id"], spooled_at)) == 1  # fmt: skip


def test_identity_mismatch_is_flagged(shared_agent: RunningAgent) -> None:
    body = checkin_body(appointment_index=5, patient={"family": "Smith", "given": "John", "birth_date": "1975-04-01"})
    answer = post(shared_agent, "/api/v1/checkins", body, **{"Idempotency-Key": str(uuid.uuid4())}).json()
    assert "identity_mismatch" in answer["flags"]


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
