"""A scanned insurance card (issue #17) through a real agent process: only real JPEGs are taken (a 422 and
nothing stored otherwise); the card is sealed at rest, in the check-in's transaction, and named by a
`checkin.v2` event without its images; the desk sees the row marker, the fields and both sides through
audited, uncached routes; and the member id never reaches the agent's log, /metrics or the board."""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid

import httpx
import pytest

from edge_agent import config as site_config, insurance_cards
from edge_agent.keys import SiteKey
from edge_agent.store import Store
from tests.card_jpegs import b64, card_jpeg, card_scan, png_bytes

from .conftest import FRONT_DESK, KIOSK_ID, Staff, row, signed_in_page, today_appointments

MEMBER_ID = "ZQ7781234509"


def checkin_body(appointment, **extra) -> dict:
    checkin_id = str(uuid.uuid4())
    return {
        "checkin_id": checkin_id, "kiosk_id": KIOSK_ID, "appointment_id": appointment.appointment_id,
        "identity_source": "manual",
        "patient": {"family": appointment.family, "given": appointment.given,
                    "birth_date": appointment.birth_date.isoformat()},
        **extra,
    }  # fmt: skip


def post(kiosk, body: dict) -> httpx.Response:
    return kiosk.http.post("/api/v1/checkins", json=body, headers={"Idempotency-Key": body["checkin_id"]})


def stored_counts(agent, checkin_id: str) -> dict[str, int]:
    with sqlite3.connect(agent.database) as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (checkin_id,)).fetchone()[0]
                for table, column in (("arrivals", "checkin_id"), ("insurance_cards", "checkin_id"),
                                      ("outbox", "aggregate_id"), ("idempotency", "key"))}  # fmt: skip


def audit_actions(admin: Staff, checkin_id: str) -> list[str]:
    entries = admin.http.get("/api/v1/audit", params={"limit": 500}).json()["entries"]
    return [e["action"] for e in entries if e["subject"] == checkin_id]


@pytest.mark.parametrize("front, back, side", [
    (b64(png_bytes()), None, "front"),                                    # a PNG: decodes, but is not JPEG
    (b64(card_jpeg("front")), b64(card_jpeg("back")[:700]), "back"),       # a truncated JPEG
    (b64(card_jpeg("front", size=(120, 80))), None, "front"),             # too small to be a card's picture
    (b64(b"\xff\xd8\xff\xe0" + b"\x00" * 400), None, "front"),            # a JPEG header and nothing else
])  # fmt: skip
def test_only_real_jpegs_are_taken_and_nothing_is_stored_otherwise(agent, kiosk, front, back, side):
    appointment = today_appointments()[0]
    body = checkin_body(appointment, insurance_card={"front_jpeg": front, "back_jpeg": back, "fields": {}})
    response = post(kiosk, body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error"] == "card_image_invalid" and problem["field"] == f"insurance_card.{side}_jpeg"
    assert stored_counts(agent, body["checkin_id"]) == {"arrivals": 0, "insurance_cards": 0, "outbox": 0, "idempotency": 0}


def test_the_card_is_sealed_shown_to_the_desk_audited_and_kept_out_of_logs_metrics_and_board(
    agent, kiosk, front_desk: Staff, admin: Staff
) -> None:  # fmt: skip
    appointment = today_appointments()[1]
    scan = card_scan(MEMBER_ID, review=("group_number", "plan"), corrected=("member_id",))
    body = checkin_body(appointment, insurance_card=scan,
                        coverage={"payor": "Acme Health", "member_id": MEMBER_ID, "group": "GRP-4411", "source": "card"})
    response = post(kiosk, body)
    assert response.status_code == 201, response.text
    assert "insurance_see_desk" not in response.json()["flags"]  # no eligibility answer today: nothing to say
    checkin_id = body["checkin_id"]
    assert stored_counts(agent, checkin_id) == {"arrivals": 1, "insurance_cards": 1, "outbox": 1, "idempotency": 1}

    # sealed at rest: neither the member id nor the JPEG bytes are in the database file as they are
    front = base64.b64decode(scan["front_jpeg"])
    with sqlite3.connect(agent.database) as db:
        row = db.execute("SELECT front_sealed, fields_sealed, front_size, review_count FROM insurance_cards"
                         " WHERE checkin_id = ?", (checkin_id,)).fetchone()  # fmt: skip
        event_type, payload = db.execute("SELECT event_type, payload_sealed FROM outbox WHERE aggregate_id = ?",
                                         (checkin_id,)).fetchone()  # fmt: skip
    assert front[:64] not in row[0] and MEMBER_ID.encode() not in row[1] and row[2:] == ("428x270", 2)
    assert MEMBER_ID.encode() not in agent.database.read_bytes()
    assert event_type == "checkin.v2"
    store = Store(agent.database, SiteKey.load(site_config.load(agent.config).key_file))
    try:
        event = store.unseal_json(payload, f"outbox:{checkin_id}")
        card = insurance_cards.load_card(store, checkin_id)
    finally:
        store.close()
    assert event["insurance_card"] == checkin_id and event["checkin"]["insurance_card"] is None  # named, not copied
    assert card is not None and card.front_jpeg == front and card.value("member_id") == MEMBER_ID

    # the desk: the row's marker, then the details (fields, marks, both sides), every view audited
    [row_entry] = [e for e in front_desk.http.get("/api/v1/queue").json()["entries"] if e["checkin_id"] == checkin_id]
    assert row_entry["card_fields_to_check"] == 2
    shown = front_desk.http.get(f"/api/v1/queue/{checkin_id}/insurance-card")
    assert shown.status_code == 200 and "no-store" in shown.headers["cache-control"]
    fields = shown.json()["fields"]
    assert fields["member_id"] == {"value": MEMBER_ID, "needs_review": False, "corrected": True}
    assert fields["group_number"]["needs_review"] and fields["plan"]["needs_review"]
    images = shown.json()["images"]
    assert set(images) == {"front", "back"}
    for side, url in images.items():
        image = front_desk.http.get(url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert "no-store" in image.headers["cache-control"]
        assert image.content == base64.b64decode(scan[f"{side}_jpeg"])
    front_desk.http.get(images["front"])  # a second look is a second audit entry
    actions = audit_actions(admin, checkin_id)
    assert actions.count("insurance_card.view") == 1
    assert actions.count("insurance_card.front_image") == 2 and actions.count("insurance_card.back_image") == 1

    # no staff session, no card: neither the fields nor an image
    with httpx.Client(base_url=agent.url, timeout=10) as anonymous:
        for path in (f"/api/v1/queue/{checkin_id}/insurance-card", images["front"], images["back"]):
            assert anonymous.get(path).status_code == 401
    assert front_desk.http.get(f"/api/v1/queue/{uuid.uuid4()}/insurance-card/front.jpg").status_code == 404
    assert front_desk.http.get(f"/api/v1/queue/{checkin_id}/insurance-card/side.jpg").status_code == 422

    # privacy: the member id is nowhere in the agent's log, its metrics or the board
    metrics = httpx.get(f"{agent.url}/metrics", timeout=10).text
    board = httpx.get(f"{agent.url}/api/v1/board", timeout=10).text
    log = (agent.root / "agent.log").read_text(encoding="utf-8", errors="replace")
    assert "checkin accepted" in log  # the log is the one this agent writes to
    for text in (metrics, board, log):
        assert MEMBER_ID not in text and scan["front_jpeg"][:40] not in text
        assert appointment.family not in text


def test_a_card_without_a_back_and_a_replay_store_one_card(agent, kiosk, front_desk: Staff) -> None:
    appointment = today_appointments()[2]
    body = checkin_body(appointment, insurance_card=card_scan("QQ1", back=False, review=(), corrected=()))
    first, again = post(kiosk, body), post(kiosk, body)
    assert first.status_code == 201 and again.status_code == 200 and again.content == first.content
    assert stored_counts(agent, body["checkin_id"])["insurance_cards"] == 1
    checkin_id = body["checkin_id"]
    [row_entry] = [e for e in front_desk.http.get("/api/v1/queue").json()["entries"] if e["checkin_id"] == checkin_id]
    assert row_entry["card_fields_to_check"] == 0
    shown = front_desk.http.get(f"/api/v1/queue/{checkin_id}/insurance-card").json()
    assert set(shown["images"]) == {"front"}
    assert front_desk.http.get(f"/api/v1/queue/{checkin_id}/insurance-card/back.jpg").status_code == 404
    json.dumps(shown)  # plain JSON, nothing else


@pytest.mark.browser
def test_the_dashboard_shows_the_marker_the_fields_and_both_sides(agent, kiosk, new_page, admin: Staff) -> None:
    desk = signed_in_page(new_page, agent, *FRONT_DESK)
    appointment = today_appointments()[3]
    body = checkin_body(appointment, insurance_card=card_scan("BR5550123", review=("group_number", "plan")))
    assert post(kiosk, body).status_code == 201
    checkin_id = body["checkin_id"]
    arrival = row(desk, checkin_id)
    arrival.wait_for(timeout=10000)  # live, over server-sent events
    assert arrival.locator(".card-marker").inner_text() == "insurance card: 2 fields to check"
    arrival.locator("button.details").click()
    desk.wait_for_selector("#details[open]")
    desk.wait_for_function("() => !document.getElementById('details-card').hidden")
    card_text = desk.inner_text("#details-card-body")
    assert "BR5550123" in card_text and "(corrected by the patient)" in card_text
    assert desk.locator("#details-card-body dd.card-needs-review").count() == 2
    desk.wait_for_function(
        "() => [...document.querySelectorAll('#details-card-images img')].every(i => i.complete && i.naturalWidth === 428)"
    )
    assert desk.locator("#details-card-images img").count() == 2
    actions = audit_actions(admin, checkin_id)
    assert "insurance_card.view" in actions and "insurance_card.front_image" in actions and "insurance_card.back_image" in actions

