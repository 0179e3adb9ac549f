"""In headless Chromium: the arrivals row says "Active — copay $25" for one patient and "Inactive" with
the reason for another, the coverage_inactive flag is up before anyone is called, and the details view
shows the full answer."""

from __future__ import annotations

import types
import uuid

import pytest

from tests.desk.conftest import CHROMIUM_ARGS, signed_in_page

from .conftest import STAFF, appointments_on, check_in, start_eligibility_agent, today

pytestmark = pytest.mark.browser


@pytest.fixture
def new_page():
    """A fresh Chromium page; Playwright is closed after the test (its loop must not outlive it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield lambda **_: chromium.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US").new_page()
        finally:
            chromium.close()


def test_desk_shows_verified_copay_and_inactive_reason(tmp_path, clearinghouse, new_page):
    appointments = [a for a in appointments_on(today()) if a.coverage]
    active, inactive, rejected = appointments[0], appointments[1], appointments[2]
    clearinghouse.set_members({active.coverage.member_id: "active", inactive.coverage.member_id: "inactive",
                               rejected.coverage.member_id: "invalid_id"})  # fmt: skip
    agent = start_eligibility_agent(tmp_path, clearinghouse.url)
    try:
        page = signed_in_page(new_page, types.SimpleNamespace(url=agent.base_url), *STAFF)
        ids = [check_in(agent, a, str(uuid.uuid4()))["checkin_id"] for a in (active, inactive, rejected)]
        badge = lambda checkin_id: page.locator(f'tr[data-checkin-id="{checkin_id}"] .eligibility')  # noqa: E731
        page.wait_for_selector(f'tr[data-checkin-id="{ids[0]}"] .eligibility[data-state="verified"]', timeout=30000)
        assert badge(ids[0]).inner_text() == "Active — copay $25"
        page.wait_for_selector(f'tr[data-checkin-id="{ids[1]}"] .eligibility[data-state="inactive"]', timeout=30000)
        assert badge(ids[1]).inner_text().startswith("Inactive — Coverage inactive (ended ")
        page.wait_for_selector(f'tr[data-checkin-id="{ids[2]}"] .eligibility[data-state="inactive"]', timeout=30000)
        assert badge(ids[2]).inner_text() == "Inactive — Invalid member ID"
        row = page.locator(f'tr[data-checkin-id="{ids[1]}"]')
        assert row.get_attribute("data-status") == "waiting"  # raised before the patient is called
        assert row.locator(".flag-coverage_inactive").inner_text() == "Coverage inactive"
        height = badge(ids[0]).evaluate("e => e.getBoundingClientRect().height")
        assert height >= 24
        page.locator(f'tr[data-checkin-id="{ids[0]}"] button.details').click()
        page.wait_for_selector("#details[open] #details-eligibility:not([hidden])")
        details = page.inner_text("#details-eligibility")
        assert "GOLD PPO 500" in details and "$25 (98)" in details and "$350" in details and "20 %" in details
        assert active.coverage.member_id not in page.inner_text("#queue-body")
        page.screenshot(path=str(tmp_path / "desk-eligibility.png"))
    finally:
        agent.stop()
