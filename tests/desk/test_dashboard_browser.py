"""The dashboard and the lobby board in real headless Chromium against a real agent process."""

from __future__ import annotations


import pytest

from edge_agent.central.fhir import schedule_from_resources

from .conftest import ADMIN, FRONT_DESK, central_schedule, Kiosk, row, signed_in_page, Staff, today_appointments, wait_until

pytestmark = pytest.mark.browser


def test_failed_sign_in_shows_a_message_and_no_dashboard(agent, new_page):
    page = new_page()
    page.goto(f"{agent.url}/desk/login")
    page.fill("#username", FRONT_DESK[0])
    page.fill("#password", "not-the-password")
    page.click("#sign-in")
    page.wait_for_selector("#notice")
    assert "Wrong username or password" in page.inner_text("#notice")
    assert page.url.endswith("/desk/login")
    page.goto(f"{agent.url}/desk")
    assert page.url.endswith("/desk/login")  # still signed out: redirected back


def test_check_in_appears_live_then_call_reaches_the_board_and_undo_takes_it_back(agent, kiosk, new_page):
    desk = signed_in_page(new_page, agent, *FRONT_DESK)
    board = new_page(1920, 1080)
    board.goto(f"{agent.url}/board")
    board.wait_for_function("() => document.getElementById('connection').hidden")

    appointment = today_appointments()[10]
    ticket = kiosk.check_in(appointment)
    checkin = row(desk, ticket["checkin_id"])
    checkin.wait_for(timeout=10000)  # arrived over server-sent events: no reload
    assert checkin.locator("td.ticket").inner_text() == ticket["ticket"]
    assert appointment.family in checkin.locator("td.name").inner_text()
    assert checkin.get_attribute("data-status") == "waiting"
    checkin.locator("button.details").click()  # the patient's details: an audited view
    desk.wait_for_selector("#details[open]")
    assert appointment.birth_date.isoformat() in desk.inner_text("#details-body")
    desk.click("#details-close")
    desk.wait_for_selector("#details[open]", state="detached")
    board.wait_for_function(
        "t => [...document.querySelectorAll('#waiting li')].some(li => li.textContent === t)", arg=ticket["ticket"]
    )

    checkin.locator("input.room-input").fill("3")
    other = kiosk.check_in(today_appointments()[11])  # arrives while the room number is being typed
    row(desk, other["checkin_id"]).wait_for(timeout=10000)
    assert desk.evaluate("() => document.activeElement.classList.contains('room-input')")
    assert checkin.locator("input.room-input").input_value() == "3"
    checkin.locator("button.call").click()
    desk.wait_for_selector(f'tr[data-checkin-id="{ticket["checkin_id"]}"][data-status="called"]')
    board.wait_for_function("t => document.getElementById('now-ticket').textContent === t", arg=ticket["ticket"])
    assert board.inner_text("#now-room") == "Room 3"

    desk.click("#undo")
    desk.wait_for_selector(f'tr[data-checkin-id="{ticket["checkin_id"]}"][data-status="waiting"]')
    board.wait_for_function("t => document.getElementById('now-ticket').textContent !== t", arg=ticket["ticket"])

    row(desk, ticket["checkin_id"]).locator("button.room").click()
    desk.wait_for_selector(f'tr[data-checkin-id="{ticket["checkin_id"]}"][data-status="roomed"]')
    row(desk, ticket["checkin_id"]).locator("button.complete").click()
    desk.wait_for_selector(f'tr[data-checkin-id="{ticket["checkin_id"]}"][data-status="done"]')

    row(desk, other["checkin_id"]).locator("button.no-show").click()
    desk.wait_for_selector(f'tr[data-checkin-id="{other["checkin_id"]}"][data-status="no_show"]')


def test_device_status_change_appears_on_the_dashboard(agent, kiosk, new_page):
    kiosk.heartbeat([{"name": "receipt", "kind": "receipt_printer", "state": "online"}])
    desk = signed_in_page(new_page, agent, *FRONT_DESK)
    desk.wait_for_selector('li.kiosk[data-kiosk-id="kiosk-1"][data-state="online"] li[data-device="receipt"][data-state="online"]')
    kiosk.heartbeat([{"name": "receipt", "kind": "receipt_printer", "state": "degraded", "reason": "paper low"}])
    device = desk.wait_for_selector('li[data-device="receipt"][data-state="degraded"]', timeout=10000)
    assert "paper low" in device.inner_text()
    kiosk.ask_for_help()
    desk.wait_for_selector("li.kiosk.help .help-request button.help-handled", timeout=10000).click()
    desk.wait_for_selector("li.kiosk.help", state="detached", timeout=10000)


def test_a_silent_kiosk_is_shown_offline(agent, new_page):
    import sqlite3

    with sqlite3.connect(agent.database, timeout=30) as conn:
        conn.execute("UPDATE kiosks SET last_seen_at = '2020-01-01T00:00:00+00:00' WHERE kiosk_id = 'kiosk-1'")
    desk = signed_in_page(new_page, agent, *FRONT_DESK)
    kiosk_item = desk.wait_for_selector('li.kiosk[data-kiosk-id="kiosk-1"][data-state="offline"]')
    assert "Offline" in kiosk_item.inner_text()


def test_the_board_and_the_dashboard_reconnect_by_themselves_after_the_agent_restarts(agent, front_desk, new_page):
    board = new_page(1080, 1920)  # portrait screen
    board.goto(f"{agent.url}/board")
    board.wait_for_function("() => document.getElementById('connection').hidden")
    desk = signed_in_page(new_page, agent, *FRONT_DESK)
    agent.stop()
    board.wait_for_function("() => !document.getElementById('connection').hidden", timeout=15000)
    desk.wait_for_selector('#live[data-state="reconnecting"]', timeout=15000)
    agent.start()
    board.wait_for_function("() => document.getElementById('connection').hidden", timeout=30000)
    desk.wait_for_selector('#live[data-state="live"]', timeout=30000)  # sessions are kept by the agent
    kiosk = Kiosk(agent)
    try:
        ticket = kiosk.check_in(today_appointments()[12])
    finally:
        kiosk.close()
    row(desk, ticket["checkin_id"]).wait_for(timeout=15000)  # the new process's events reach the old page
    assert front_desk.post(f"/api/v1/queue/{ticket['checkin_id']}/call", {"room": "7"}).status_code == 200
    board.wait_for_function("t => document.getElementById('now-ticket').textContent === t", arg=ticket["ticket"],
                            timeout=15000)


def test_an_admin_retries_a_dead_letter_from_the_dashboard_and_discards_another_with_a_reason(
    central_agent, new_page
):
    agent, sandbox = central_agent
    appointments = schedule_from_resources(central_schedule())
    rejection = {"mode": "status", "status": 400, "count": 1, "methods": ["POST"]}
    sandbox.control("POST", "faults", json={**rejection, "diagnostics": "Coverage.payor: unknown organisation"})
    kiosk = Kiosk(agent)
    try:
        ticket = kiosk.check_in(appointments[0])
    finally:
        kiosk.close()
    admin_page = signed_in_page(new_page, agent, *ADMIN)
    letter = admin_page.wait_for_selector("li.dead-letter", timeout=30000)  # the panel refreshes every 10 s
    assert ticket["checkin_id"] in letter.inner_text()
    assert "Coverage.payor: unknown organisation" in letter.inner_text()  # the server's own message
    letter.query_selector("button.retry").click()
    admin_page.wait_for_selector("li.dead-letter", state="detached", timeout=10000)

    def encounters() -> int:
        return sandbox.control("GET", "stats")["resources"].get("Encounter", 0)

    wait_until(lambda: encounters() == 1, 30, "the retried check-in to reach the central system")

    sandbox.control("POST", "faults", json={**rejection, "diagnostics": "Patient merged elsewhere"})
    kiosk = Kiosk(agent)
    admin = Staff(agent, *ADMIN)
    try:
        second = kiosk.check_in(appointments[1])["checkin_id"]
        dead = wait_until(lambda: admin.http.get("/api/v1/sync").json()["dead_letters"], 30, "a second dead letter")
        assert dead[0]["aggregate_id"] == second and "Patient merged elsewhere" in dead[0]["outcome"]
        discard = f"/api/v1/sync/dead-letters/{dead[0]['id']}/discard"
        assert admin.post(discard, {"reason": ""}).status_code == 422  # a reason is required
        assert admin.post(discard, {"reason": "merged at central by hand"}).status_code == 200
        assert admin.http.get("/api/v1/sync").json()["dead_letters"] == []
        assert admin.post(f"/api/v1/sync/dead-letters/{dead[0]['id']}/retry").status_code == 404
        audit = admin.http.get("/api/v1/audit").json()["entries"]
    finally:
        kiosk.close()
        admin.close()
    assert any(e["action"] == "dead_letter.retry" and e["actor"] == "admin" for e in audit)
    assert any(e["action"] == "dead_letter.discard" and e["detail"]["reason"] == "merged at central by hand"
               for e in audit)
    assert encounters() == 1  # the discarded one was not sent
