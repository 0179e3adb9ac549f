"""Keyboard use of the dashboard in real headless Chromium: real key presses, and focus that survives the
live (server-sent events) rebuild of the row it was on."""

from __future__ import annotations

import pytest

from .axe import focus_indicator
from .conftest import FRONT_DESK, KIOSK_ID, PRINTERS, row, signed_in_page, today_appointments, wait_status, wait_until

pytestmark = pytest.mark.browser

def focused(page) -> dict:
    return page.evaluate(
        """() => { const el = document.activeElement; const row = el.closest('tr[data-checkin-id]');
                   return { control: el.dataset.control || el.id, row: row ? row.dataset.checkinId : null,
                            stale: Boolean(el.__before) }; }"""
    )


def mark_current_focus(page) -> None:
    """Tag the focused element, to prove later that focus is on a new (rebuilt) element."""
    page.evaluate("() => { document.activeElement.__before = true; }")


def assert_focus_visible(page) -> None:
    indicator = focus_indicator(page)
    assert indicator["outlineStyle"] != "none" and indicator["outlineWidth"] >= 2, indicator


@pytest.mark.wcag("2.1.1", "2.4.3", "2.4.7", "3.2.2")
def test_focus_stays_on_the_rows_control_or_moves_to_the_next_action_through_live_rebuilds(agent, kiosk, new_page):
    kiosk.heartbeat(PRINTERS)
    appointments = today_appointments()
    first, second, third = (kiosk.check_in(appointments[i])["checkin_id"] for i in (0, 1, 2))
    page = signed_in_page(new_page, agent, *FRONT_DESK)
    for checkin in (first, second, third):
        row(page, checkin).wait_for()

    page.focus(f'tr[data-checkin-id="{first}"] input.room-input')
    page.keyboard.type("4")
    page.keyboard.press("Tab")
    assert focused(page)["control"] == "call"
    assert_focus_visible(page)
    mark_current_focus(page)
    page.keyboard.press("Enter")
    wait_status(page, first, "called")
    assert focused(page) == {"control": "call", "row": first, "stale": False}  # same control, rebuilt row
    assert row(page, first).get_attribute("data-status") == "called"

    page.keyboard.press("Tab")  # Call -> Room
    assert focused(page)["control"] == "room"
    mark_current_focus(page)
    page.keyboard.press("Enter")
    wait_status(page, first, "roomed")
    assert focused(page) == {"control": "complete", "row": first, "stale": False}  # Room is gone: Complete
    assert_focus_visible(page)

    mark_current_focus(page)
    page.keyboard.press("Enter")
    wait_status(page, first, "done")
    # Nothing left to do for the first arrival: the next arrival's first action.
    assert focused(page) == {"control": "call", "row": second, "stale": False}

    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # Call -> Room -> No-show
    assert focused(page)["control"] == "no-show"
    page.keyboard.press("Enter")
    wait_status(page, second, "no_show")
    assert focused(page) == {"control": "call", "row": third, "stale": False}

    page.focus("#undo")
    page.keyboard.press("Enter")
    wait_status(page, second, "waiting")
    assert focused(page)["control"] == "undo"
    assert_focus_visible(page)

    page.focus(f'tr[data-checkin-id="{third}"] select.reprint-printer')
    page.keyboard.press("ArrowDown")  # choosing a printer by keyboard sends nothing (WCAG 3.2.2)
    assert page.eval_on_selector(f'tr[data-checkin-id="{third}"] select.reprint-printer', "s => s.selectedIndex") == 1
    page.keyboard.press("Tab")
    assert focused(page) == {"control": "reprint", "row": third, "stale": False}
    assert kiosk.http.get(f"/api/v1/kiosks/{KIOSK_ID}/reprints").json()["reprints"] == []
    page.keyboard.press("Enter")
    reprints = wait_until(lambda: kiosk.http.get(f"/api/v1/kiosks/{KIOSK_ID}/reprints").json()["reprints"],
                          10, "the reprint request")
    assert [(r["checkin_id"], r["kind"], r["printer"]) for r in reprints] == [(third, "label", "wristband")]
    assert focused(page) == {"control": "reprint", "row": third, "stale": False}
