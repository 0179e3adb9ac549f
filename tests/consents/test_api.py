"""Consents through the real agent: forms in the lookup answer, a wrong hash refused with nothing stored,
signed forms not asked again, and staff opening the sealed PDF (audited)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from lobby_core.demo import DEMO_PATIENTS
from tests.agent.launcher import REPO, RunningAgent, start_agent

from .conftest import signature

STAFF_USER, STAFF_PASSWORD = "rosa.desk", "correct horse battery"
RETURNING = DEMO_PATIENTS[0]  # García López, María José: a returning patient of the demo schedule
NEW = DEMO_PATIENTS[5]  # Kowalski, Zoë: the demo schedule's new patient


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    running = start_agent(tmp_path_factory.mktemp("consents-agent"), agent={"lookup_rate_per_minute": 600})
    try:
        yield running
    finally:
        running.stop()


def lookup(agent: RunningAgent, patient: tuple[str, str, str], language: str = "es") -> dict:
    family, given, birth_date = patient
    body = {"family": family, "given": given, "birth_date": birth_date, "language": language}
    response = httpx.post(f"{agent.base_url}/api/v1/lookup", json=body, headers=agent.headers(), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "matched"
    return response.json()["appointment"]


def signed(form: dict, language: str, kiosk_id: str, *, shown_text: str | None = None) -> dict:
    """What a kiosk sends: the SHA-256 of the text it actually showed, computed on the kiosk's side."""
    text = form["text"][language] if shown_text is None else shown_text
    return {
        "document_id": form["document_id"], "version": form["version"], "language": language,
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "decision": "accepted",
        "signature": signature().model_dump(mode="json"),
        "signed_at": dt.datetime.now(dt.timezone.utc).isoformat(), "kiosk_id": kiosk_id,
    }  # fmt: skip


def checkin(agent: RunningAgent, appointment: dict, patient: tuple, consents: list[dict], key: str) -> httpx.Response:
    family, given, birth_date = patient
    body = {
        "checkin_id": key, "kiosk_id": agent.kiosk_id, "appointment_id": appointment["appointment_id"],
        "identity_source": "manual", "patient": {"family": family, "given": given, "birth_date": birth_date},
        "consents": consents, "language": "es",
    }  # fmt: skip
    headers = agent.headers(**{"Idempotency-Key": key})
    return httpx.post(f"{agent.base_url}/api/v1/checkins", json=body, headers=headers, timeout=30)


def stored_counts(agent: RunningAgent) -> dict[str, int]:
    with sqlite3.connect(f"file:{agent.store_path}?mode=ro", uri=True) as conn:
        return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("arrivals", "consents", "outbox", "idempotency")}  # fmt: skip


def test_new_patients_are_also_asked_for_new_patient_forms(agent):
    returning = [form["document_id"] for form in lookup(agent, RETURNING)["forms_due"]]
    new = [form["document_id"] for form in lookup(agent, NEW)["forms_due"]]
    assert "telehealth" not in returning and "telehealth" in new
    assert set(returning) == {"consent-to-treat", "financial-responsibility", "privacy-notice"}


def test_a_wrong_hash_is_refused_nothing_is_stored_and_signed_forms_are_not_asked_again(agent):
    appointment = lookup(agent, RETURNING)
    forms = {form["document_id"]: form for form in appointment["forms_due"]}
    treat, notice = forms["consent-to-treat"], forms["privacy-notice"]
    assert "atención" in treat["text"]["es"]
    before = stored_counts(agent)
    key = str(uuid.uuid4())

    edited = treat["text"]["es"].replace("un año", "dos años")  # a kiosk showing a text the agent never served
    refused = checkin(agent, appointment, RETURNING, [signed(notice, "es", agent.kiosk_id),
                                                      signed(treat, "es", agent.kiosk_id, shown_text=edited)], key)  # fmt: skip
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["error"] == "consent_text_mismatch" and problem["field"] == "consents[1].text_sha256"
    assert f"consent-to-treat version {treat['version']} (es)" in problem["message"]
    assert stored_counts(agent) == before  # no arrival, no consent, no outbox event, no idempotency record

    accepted = checkin(agent, appointment, RETURNING, [signed(notice, "es", agent.kiosk_id),
                                                       signed(treat, "es", agent.kiosk_id)], key)  # fmt: skip
    assert accepted.status_code == 201, accepted.text
    after = stored_counts(agent)
    assert after["consents"] == before["consents"] + 2 and after["outbox"] == before["outbox"] + 1
    assert [form["document_id"] for form in lookup(agent, RETURNING)["forms_due"]] == ["financial-responsibility"]


def add_staff(agent: RunningAgent) -> None:
    command = [sys.executable, "-m", "edge_agent.cli", "add-staff", STAFF_USER, "--role", "front_desk",
               "--password-stdin", "--config", str(agent.config_path)]  # fmt: skip
    subprocess.run(command, input=STAFF_PASSWORD + "\n", text=True, capture_output=True, check=True, timeout=60, cwd=REPO)


@contextlib.contextmanager
def staff_client(agent: RunningAgent) -> Iterator[httpx.Client]:
    """Signed in through the desk's real sign-in form."""
    with httpx.Client(base_url=agent.base_url, timeout=30, headers={"Origin": agent.base_url}) as client:
        client.get("/desk/login")
        csrf = client.cookies.get("desk_login_csrf")
        form = {"username": STAFF_USER, "password": STAFF_PASSWORD, "csrf_token": csrf}
        assert client.post("/desk/login", data=form).status_code == 303
        yield client


def test_staff_open_the_sealed_pdf_it_verifies_and_the_view_is_audited(agent, tmp_path: Path):
    appointment = lookup(agent, NEW, language="en")
    form = next(form for form in appointment["forms_due"] if form["document_id"] == "telehealth")
    checkin_id = str(uuid.uuid4())
    assert checkin(agent, appointment, NEW, [signed(form, "en", agent.kiosk_id)], checkin_id).status_code == 201

    listing_url = f"/api/v1/checkins/{checkin_id}/consents"
    assert httpx.get(f"{agent.base_url}{listing_url}", timeout=30).status_code == 401  # staff only
    add_staff(agent)
    with staff_client(agent) as staff:
        [consent] = staff.get(listing_url).json()["consents"]
        assert consent["document_id"] == "telehealth" and consent["decision"] == "accepted"
        response = staff.get(consent["pdf_url"])
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        assert staff.get(consent["pdf_url"]).content == response.content  # rendered once, then reused
    pdf = tmp_path / "telehealth.pdf"
    pdf.write_bytes(response.content)
    verified = subprocess.run([sys.executable, "-m", "edge_agent.cli", "verify-consent", str(pdf), "--config",
                               str(agent.config_path)], capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Zoë Kowalski" in verified.stdout and "telehealth version" in verified.stdout

    with sqlite3.connect(f"file:{agent.store_path}?mode=ro", uri=True) as conn:
        views = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'consent.pdf_viewed' AND subject = ?", (consent["consent_id"],)
        ).fetchall()
    assert views == [(STAFF_USER,), (STAFF_USER,)]


def test_a_version_published_while_the_agent_runs_is_asked_again(tmp_path: Path):
    from edge_agent.config import DEFAULT_CONSENTS_DIR

    from .test_documents import _bump

    consents_dir = tmp_path / "consents"
    shutil.copytree(DEFAULT_CONSENTS_DIR, consents_dir)
    running = start_agent(tmp_path / "agent", **{"": {"consents_dir": str(consents_dir)}})
    try:
        appointment = lookup(running, RETURNING)
        notice = next(form for form in appointment["forms_due"] if form["document_id"] == "privacy-notice")
        key = str(uuid.uuid4())
        assert checkin(running, appointment, RETURNING, [signed(notice, "es", running.kiosk_id)], key).status_code == 201
        assert "privacy-notice" not in [form["document_id"] for form in lookup(running, RETURNING)["forms_due"]]

        _bump(consents_dir, "privacy-notice", "2026.1", "\n- Entiendo la nueva cláusula sobre telesalud.\n")
        again = next(form for form in lookup(running, RETURNING)["forms_due"] if form["document_id"] == "privacy-notice")
        assert again["version"] == "2026.1" and "nueva cláusula" in again["text"]["es"]
    finally:
        running.stop()
