""""Is this still right?" is due on a policy (issue #12): the lookup carries the on-file hints only when
the patient has not confirmed their details within `[kiosk] review_details_every_days`. Against a real
agent process and its real SQLite store."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid

import httpx

from edge_agent.matching import patient_key
from edge_agent.store import Store

from .helpers import GARCIA, checkin_body, count_rows
from .launcher import RunningAgent

EMPTY_HINTS = {"street_ending": "", "phone_ending": "", "member_id_ending": "", "payer": ""}


def post(agent: RunningAgent, path: str, body: dict) -> httpx.Response:
    with agent.client() as client:
        return client.post(path, json=body, headers=agent.headers(**{"Idempotency-Key": str(uuid.uuid4())}))


def hints_for(agent: RunningAgent, patient: dict = GARCIA) -> dict:
    response = post(agent, "/api/v1/lookup", patient)
    assert response.status_code == 200 and response.json()["outcome"] == "matched", response.text
    return response.json()["appointment"]["on_file"]


def check_in(agent: RunningAgent, **overrides) -> None:
    response = post(agent, "/api/v1/checkins", checkin_body(**overrides))
    assert response.status_code == 201, response.text


def confirmed_on(agent: RunningAgent) -> list[str]:
    conn = sqlite3.connect(f"file:{agent.store_path}?mode=ro", uri=True, timeout=30)
    try:
        return [row[0] for row in conn.execute("SELECT confirmed_on FROM details_confirmed")]
    finally:
        conn.close()


def date_confirmations_back(agent: RunningAgent, days: int) -> None:
    """As if every confirmation on file had been given `days` earlier (the agent keeps running)."""
    conn = sqlite3.connect(agent.store_path, timeout=30)
    try:
        with conn:
            for key, day in conn.execute("SELECT patient_key, confirmed_on FROM details_confirmed").fetchall():
                earlier = dt.date.fromisoformat(day) - dt.timedelta(days=days)
                conn.execute("UPDATE details_confirmed SET confirmed_on = ? WHERE patient_key = ?", (earlier.isoformat(), key))
    finally:
        conn.close()


def test_confirmed_details_are_not_asked_again_until_the_period_passes(launch_agent) -> None:
    agent = launch_agent(kiosk={"review_details_every_days": 90})
    first = hints_for(agent)
    assert first != EMPTY_HINTS and first["payer"], first  # never confirmed: the review is due
    check_in(agent, details_reviewed=True, details_changed=False)
    today = dt.datetime.now(dt.UTC).date()  # the test site is on UTC
    assert confirmed_on(agent) == [today.isoformat()]
    assert hints_for(agent) == EMPTY_HINTS  # the same day: not due
    date_confirmations_back(agent, 90)
    assert hints_for(agent) == EMPTY_HINTS  # confirmed exactly 90 days ago: still within the period
    date_confirmations_back(agent, 1)
    assert hints_for(agent) == first  # 91 days ago: due again, the same endings as the first time


def test_something_changed_and_no_review_record_nothing(launch_agent) -> None:
    agent = launch_agent()
    check_in(agent, appointment_index=1, details_reviewed=True, details_changed=True)  # the desk updates the file
    check_in(agent, appointment_index=2, patient={"family": "oneil smith", "given": "jean luc", "birth_date": "1971-11-02"})
    assert count_rows(agent.store_path, "details_confirmed") == 0
    assert hints_for(agent) != EMPTY_HINTS


def test_a_spooled_check_in_with_another_patients_identity_confirms_nothing(launch_agent) -> None:
    agent = launch_agent()
    spooled = {"kiosk_ticket": "K1-011", "spooled_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}
    stranger = {"family": "Smith", "given": "John", "birth_date": "1975-04-01"}
    check_in(agent, appointment_index=1, patient=stranger, offline=spooled, details_reviewed=True)
    assert count_rows(agent.store_path, "details_confirmed") == 0
    assert hints_for(agent) != EMPTY_HINTS


def test_every_days_zero_asks_at_every_visit(launch_agent) -> None:
    agent = launch_agent(kiosk={"review_details_every_days": 0})
    first = hints_for(agent)
    check_in(agent, details_reviewed=True)
    assert len(confirmed_on(agent)) == 1  # recorded all the same: the policy may change
    assert hints_for(agent) == first != EMPTY_HINTS


def test_review_due_in_the_store(tmp_path) -> None:
    """The module itself: never confirmed, within the period, past it, a later confirmation wins, and a
    file that changed since the confirmation is asked again."""
    from edge_agent import details_review
    from edge_agent.keys import SiteKey
    from lobby_core.contract import OnFileHints

    store = Store(tmp_path / "agent.db", SiteKey.load_or_create(tmp_path / "site.key"))
    try:
        key = patient_key(store.key, "García López", "María José", dt.date(1956, 3, 14))
        on_file = details_review.hints_digest(store.key, OnFileHints(street_ending="12", phone_ending="42", payer="Aetna"))
        moved = details_review.hints_digest(store.key, OnFileHints(street_ending="7", phone_ending="42", payer="Aetna"))
        today = dt.date(2026, 12, 2)

        def due(day: dt.date, every_days: int = 90, digest: str = on_file) -> bool:
            return store.read_sync(lambda conn: details_review.review_due(conn, key, day, every_days, digest))

        assert due(today)
        store.write_sync(lambda conn: details_review.record_confirmed(conn, key, today - dt.timedelta(days=10), on_file))
        store.write_sync(lambda conn: details_review.record_confirmed(conn, key, today - dt.timedelta(days=100), moved))
        assert not due(today)  # the later confirmation, of what is on file, stands
        assert due(today + dt.timedelta(days=81))
        assert due(today, every_days=0)
        assert due(today, digest=moved)  # the desk changed the street since: asked again
        assert moved != on_file
        other = patient_key(store.key, "Nguyen", "Anh", dt.date(1990, 7, 21))
        assert store.read_sync(lambda conn: details_review.review_due(conn, other, today, 90, on_file))
    finally:
        store.close()
