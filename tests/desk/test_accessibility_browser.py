"""WCAG 2.1 AA of the staff pages and the lobby board, in real headless Chromium against a real agent:
axe-core in every state, keyboard focus across live re-renders, target sizes, reflow at 320 CSS px."""

from __future__ import annotations


import pytest

from edge_agent.central.fhir import schedule_from_resources

from .axe import (
    REFLOW_WIDTH_PX,
    assert_no_serious_violations,
    control_count,
    horizontal_overflow,
    small_targets,
)
from .conftest import ADMIN, FRONT_DESK, PRINTERS, AgentProcess, central_schedule, Kiosk, row, signed_in_page, Staff, today_appointments

pytestmark = pytest.mark.browser

AXE_CRITERIA = ("1.1.1", "1.3.1", "1.3.5", "1.4.1", "1.4.3", "2.4.2", "2.4.4", "3.1.1", "3.3.2", "4.1.1", "4.1.2")
@pytest.fixture(scope="module")
def every_state(agent: AgentProcess) -> dict[str, str]:
    """Arrivals in every state the dashboard shows: waiting, called, roomed, done, no-show, flagged, and
    a kiosk asking for help. Returns state -> checkin id."""
    kiosk, staff = Kiosk(agent), Staff(agent, *FRONT_DESK)
    try:
        kiosk.heartbeat(PRINTERS)
        appointments = today_appointments()
        ids = {state: kiosk.check_in(appointments[i])["checkin_id"]
               for i, state in enumerate(("waiting", "called", "roomed", "done", "no_show"))}  # fmt: skip
        ids["flagged"] = kiosk.check_in(
            appointments[5], coverage={"payor": "Acme Health", "member_id": "NEW1", "source": "card"}
        )["checkin_id"]
        for action, state in (("call", "called"), ("call", "roomed"), ("room", "roomed"), ("call", "done"),
                              ("room", "done"), ("complete", "done"), ("no-show", "no_show")):  # fmt: skip
            assert staff.post(f"/api/v1/queue/{ids[state]}/{action}", {"room": "2"}).status_code == 200
        kiosk.ask_for_help()
    finally:
        kiosk.close()
        staff.close()
    return ids


def dashboard(new_page, agent, who, every_state, **page_options):
    page = signed_in_page(new_page, agent, *who, bypass_csp=True, **page_options)
    page.wait_for_selector(f'tr[data-checkin-id="{every_state["flagged"]}"] .flag-insurance_changed')
    page.wait_for_selector("li.kiosk.help")
    page.wait_for_selector("#stats dt")
    return page


@pytest.mark.wcag(*AXE_CRITERIA, "3.3.1")
def test_axe_finds_nothing_serious_on_any_page_in_any_state(agent, every_state, new_page):
    """axe-core 4 (WCAG 2.0/2.1 A+AA): sign-in (and its error), dashboard in every state, details dialog,
    admin view, audit page, board in both orientations."""
    page = new_page(bypass_csp=True)
    page.goto(f"{agent.url}/desk/login")
    assert_no_serious_violations(page, "the sign-in page")
    page.fill("#username", FRONT_DESK[0])
    page.fill("#password", "not-the-password")
    page.click("#sign-in")
    page.wait_for_selector("#notice")
    assert_no_serious_violations(page, "the sign-in page with its error")

    desk = dashboard(new_page, agent, FRONT_DESK, every_state)
    statuses = desk.eval_on_selector_all("#queue-body tr", "rows => rows.map(r => r.dataset.status)")
    assert {"waiting", "called", "roomed", "done", "no_show"} <= set(statuses)
    assert_no_serious_violations(desk, "the dashboard with arrivals in every state")
    row(desk, every_state["flagged"]).locator("button.details").click()
    desk.wait_for_selector("#details[open] #details-body dd")
    assert_no_serious_violations(desk, "the dashboard with the details dialog open")

    admin = dashboard(new_page, agent, ADMIN, every_state)
    admin.wait_for_selector("#audit-body tr")
    assert_no_serious_violations(admin, "the admin view")
    admin.click("#audit-all")
    admin.wait_for_selector("#audit-table tbody tr")
    assert_no_serious_violations(admin, "the audit page")

    for width, height in ((1920, 1080), (1080, 1920)):
        board = new_page(width, height, bypass_csp=True)
        board.goto(f"{agent.url}/board")
        board.wait_for_function("() => document.querySelectorAll('#waiting li').length > 0")
        assert_no_serious_violations(board, f"the board at {width}x{height}")


@pytest.mark.wcag(*AXE_CRITERIA, "2.1.1")
def test_sync_and_dead_letter_panels_pass_axe_and_a_dead_letter_is_reachable_by_keyboard(central_agent, new_page):
    agent, sandbox = central_agent
    sandbox.control("POST", "faults", json={"mode": "status", "status": 400, "count": 1, "methods": ["POST"],
                                            "diagnostics": "Coverage.payor: unknown organisation " * 12})
    kiosk = Kiosk(agent)
    try:
        kiosk.check_in(schedule_from_resources(central_schedule())[0])
    finally:
        kiosk.close()
    page = signed_in_page(new_page, agent, *ADMIN, bypass_csp=True)
    page.wait_for_selector("li.dead-letter pre", timeout=30000)
    assert page.eval_on_selector("li.dead-letter pre", "pre => pre.scrollHeight > pre.clientHeight")  # it scrolls
    assert_no_serious_violations(page, "the sync panel with a dead letter")
    page.focus("#sign-out")
    reached = None
    for _ in range(200):  # Tab from the header onwards until the dead letter's text has focus
        page.keyboard.press("Tab")
        reached = page.evaluate("() => document.activeElement.matches('li.dead-letter pre')")
        if reached:
            break
    assert reached, "Tab never reached the dead letter's scrolling text"


def pages_to_measure(agent, every_state, new_page, width: int, height: int):
    """(name, page, region allowed to scroll sideways) for each page, opened at width x height."""
    sign_in = new_page(width, height)
    sign_in.goto(f"{agent.url}/desk/login")
    yield "sign-in", sign_in, None
    desk = dashboard(new_page, agent, FRONT_DESK, every_state, width=width, height=height)
    yield "dashboard", desk, ".table-scroll"
    row(desk, every_state["flagged"]).locator("button.details").click()
    desk.wait_for_selector("#details[open] #details-body dd")
    yield "details dialog", desk, ".table-scroll"
    desk.click("#details-close")
    admin = dashboard(new_page, agent, ADMIN, every_state, width=width, height=height)
    admin.wait_for_selector("#audit-body tr")
    yield "admin view", admin, ".table-scroll"
    admin.click("#audit-all")
    admin.wait_for_selector("#audit-table tbody tr")
    yield "audit page", admin, ".table-scroll"
    board = new_page(width, height)
    board.goto(f"{agent.url}/board")
    board.wait_for_function("() => document.querySelectorAll('#waiting li').length > 0")
    yield "board", board, None


@pytest.mark.wcag("2.5.8")
def test_every_control_is_at_least_24_by_24_css_px(agent, every_state, new_page):
    problems, measured = {}, 0
    for name, page, _scrolling in pages_to_measure(agent, every_state, new_page, 1600, 1000):
        measured += control_count(page)
        if small := small_targets(page):
            problems[name] = small
    assert measured > 60  # the rows' controls were there to measure
    assert not problems, problems


@pytest.mark.wcag("1.4.10", "1.4.4")
def test_every_page_reflows_at_320_css_px_without_sideways_scrolling(agent, every_state, new_page):
    problems = {}
    for name, page, scrolling in pages_to_measure(agent, every_state, new_page, REFLOW_WIDTH_PX, 640):
        overflow = horizontal_overflow(page, scrolling)
        if overflow["scrollWidth"] > REFLOW_WIDTH_PX or overflow["wide"]:
            problems[name] = overflow
        if scrolling and page.query_selector(scrolling):  # what may scroll can be reached by keyboard
            assert page.eval_on_selector_all(scrolling, "els => els.every(el => el.tabIndex === 0)"), name
    assert not problems, problems
