"""Sign-in and desk changes under attack, against a real agent process: back-off instead of lock-out,
an attacker elsewhere cannot lock the real user out, argon2 one check at a time, unknown names never
in the audit log, and the Origin check on every state-changing desk request (httpx and real Chromium).

The site file of these tests (conftest.py): signin_free_attempts = 3, signin_backoff_s = 1, summary 1 s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
import time

import httpx
import pytest

from edge_agent.config import DeskSection
from edge_agent.desk.auth import SignInRefused, StaffAuth, create_staff
from edge_agent.keys import SiteKey
from edge_agent.store import Store

from .conftest import ADMIN, FRONT_DESK, Staff, edge_agent_cli, sign_in, signed_in_page, today_appointments, wait_until


def client_from(agent, source: str, **kwargs) -> httpx.Client:
    """A client whose connections leave from `source` (127.0.0.x): another machine, as the agent sees it."""
    return httpx.Client(base_url=agent.url, timeout=30, transport=httpx.HTTPTransport(local_address=source), **kwargs)


def add_staff(agent, username: str, password: str) -> None:
    edge_agent_cli("add-staff", username, "--password-stdin", config=agent.config, stdin=password + "\n")


def audit_entries(admin: Staff) -> list[dict]:
    return admin.http.get("/api/v1/audit", params={"limit": 5000}).json()["entries"]


# --- back-off, not lock-out ------------------------------------------------------------------------


def test_an_attacker_elsewhere_cannot_lock_out_the_real_user(agent):
    username, password = "victim", "victim-password-1"
    add_staff(agent, username, password)
    with client_from(agent, "127.0.0.2") as attacker:
        answers = [sign_in(attacker, username, f"guess-{n}").status_code for n in range(12)]
    assert answers[:3] == [401, 401, 401] and 429 in answers  # the attacker's own source is made to wait
    with client_from(agent, "127.0.0.1") as real_user:
        assert sign_in(real_user, username, password).status_code == 303  # at once, from the user's own desk
        assert "desk_session" in real_user.cookies


def test_failures_back_off_and_the_right_password_works_after_the_wait(agent):
    username, password = "backoff", "backoff-password-1"
    add_staff(agent, username, password)
    with client_from(agent, "127.0.0.3") as http:
        for _ in range(3):  # signin_free_attempts = 3
            assert sign_in(http, username, "wrong-password").status_code == 401
        waiting = sign_in(http, username, password)  # even the right password waits: it is not checked now
        assert waiting.status_code == 429 and "Please wait" in waiting.text
        assert int(waiting.headers["retry-after"]) >= 1 and "desk_session" not in http.cookies
        time.sleep(int(waiting.headers["retry-after"]))
        assert sign_in(http, username, "wrong-again").status_code == 401  # checked again after the wait...
        doubled = sign_in(http, username, password)
        assert doubled.status_code == 429 and int(doubled.headers["retry-after"]) >= 2  # ...and the wait doubles
        time.sleep(int(doubled.headers["retry-after"]))
        assert sign_in(http, username, password).status_code == 303  # nothing is locked
        csrf = http.get("/api/v1/desk/session").json()["csrf_token"]
        assert http.post("/desk/logout", headers={"Origin": agent.url, "X-CSRF-Token": csrf}).status_code == 303
        assert sign_in(http, username, "wrong-password").status_code == 401  # success started it over


def test_unknown_names_are_never_written_to_the_audit_log_only_counted(agent, admin):
    invented = ["zz-invented-name", "<script>alert(1)</script>", "robert'); drop table staff;--"]
    with client_from(agent, "127.0.0.4") as one, client_from(agent, "127.0.0.5") as other:
        for name in invented:
            assert sign_in(one, name, "whatever-password").status_code == 401
        assert sign_in(other, FRONT_DESK[0], "wrong-password").status_code == 401
        assert sign_in(other, FRONT_DESK[0], "wrong-password").status_code == 401

    def summaries() -> list[dict]:
        found = [e for e in audit_entries(admin) if e["action"] == "signin.failures"]
        return found if sum(e["detail"]["accounts"].get(FRONT_DESK[0], 0) for e in found) >= 2 else []

    found = wait_until(summaries, 20, "the failed sign-ins' audit summary")
    whole_log = admin.http.get("/api/v1/audit.csv").text + str(audit_entries(admin))
    for name in invented:
        assert name not in whole_log and name.split("'")[0] not in whole_log
    detail = next(e["detail"] for e in found if e["detail"]["accounts"].get(FRONT_DESK[0]))
    assert re.fullmatch(r"\d+ failed sign-ins from \d+ sources, \d+ known accounts \(.*frontdesk.*\), \d+ unknown names",
                        detail["summary"]), detail  # fmt: skip
    assert sum(e["detail"]["unknown_names"] for e in found) >= len(invented)
    assert sum(e["detail"]["sources"] for e in found) >= 2


def test_argon2_checks_run_one_at_a_time_and_a_source_cannot_queue_many(tmp_path, monkeypatch):
    """In-process with a real store and real argon2: twelve sign-ins at once from twelve sources are
    checked one after another; a third attempt at once from one source is told to wait, unchecked."""
    store = Store(tmp_path / "agent.db", SiteKey.load_or_create(tmp_path / "site.key"))
    create_staff(store, "flooded", "flooded-password", "front_desk")
    active = peak = 0
    lock = threading.Lock()
    real_verify = StaffAuth._verify

    def probed_verify(password_hash: str, password: str) -> bool:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return real_verify(password_hash, password)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(StaffAuth, "_verify", staticmethod(probed_verify))
    auth = StaffAuth(store, DeskSection(), secure_cookies=False)

    async def attempt(source: str) -> str:
        try:
            await auth.sign_in("flooded", "wrong-password", source=source)
        except SignInRefused as refused:
            return refused.reason
        return "signed-in"

    async def scenario() -> tuple[list[str], list[str]]:
        flood = await asyncio.gather(*(attempt(f"10.0.0.{n}") for n in range(12)))
        same_source = await asyncio.gather(*(attempt("10.0.1.1") for _ in range(3)))
        return flood, same_source

    try:  # in a thread of its own: the package's Playwright browser may hold this thread's event loop
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            flood, same_source = thread.submit(asyncio.run, scenario()).result()
    finally:
        store.close()
    assert peak == 1
    assert flood == ["invalid"] * 12
    assert sorted(same_source) == ["invalid", "invalid", "wait"]


def test_a_sign_in_flood_does_not_stop_check_ins(agent, kiosk):
    """Correctness under load (the figures are bench/attack_load.py's): check-ins keep being stored
    while several sources hammer the sign-in form."""
    stop = threading.Event()

    def hammer(source: str) -> None:
        with client_from(agent, source) as http:
            n = 0
            while not stop.is_set():
                sign_in(http, f"admin{n % 7}", "flood-password")
                n += 1

    threads = [threading.Thread(target=hammer, args=(f"127.0.1.{n}",)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    try:
        for appointment in today_appointments()[2:5]:
            assert kiosk.check_in(appointment)["ticket"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


# --- Origin check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Referer": "http://evil.example/page"},
    {},  # neither: not a page of the agent
])  # fmt: skip
def test_a_desk_change_from_another_origin_is_refused(agent, headers):
    with httpx.Client(base_url=agent.url, timeout=30) as http:  # signed in, with a valid CSRF token
        assert sign_in(http, *FRONT_DESK).status_code == 303
        csrf = http.get("/api/v1/desk/session").json()["csrf_token"]
        refused = http.post("/api/v1/desk/ping", json={"nonce": "forged"}, headers={"X-CSRF-Token": csrf, **headers})
        assert refused.status_code == 403 and refused.json()["error"] == "cross_origin"
        same_page = http.post("/api/v1/desk/ping", json={"nonce": "own"},
                              headers={"X-CSRF-Token": csrf, "Referer": f"{agent.url}/desk"})  # fmt: skip
        assert same_page.status_code == 202
        own = http.post("/api/v1/desk/ping", json={"nonce": "own"}, headers={"X-CSRF-Token": csrf, "Origin": agent.url})
        assert own.status_code == 202


def test_the_sign_in_form_posted_from_another_origin_is_refused(agent):
    with httpx.Client(base_url=agent.url, timeout=30) as http:
        page = http.get("/desk/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf}
        refused = http.post("/desk/login", data=form, headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403 and refused.json()["error"] == "cross_origin"
        assert "desk_session" not in http.cookies


@pytest.mark.browser
def test_the_desk_still_works_in_a_real_browser_with_the_origin_check(agent, kiosk, new_page):
    """Sign-in (form post), an action (fetch post) and sign-out (form post) from Chromium all pass the
    check, and each did send the desk's own Origin."""
    origins: list[str | None] = []
    page = new_page()
    page.on("request", lambda request: origins.append(request.all_headers().get("origin"))
            if request.method == "POST" else None)  # fmt: skip
    page = signed_in_page(lambda: page, agent, *FRONT_DESK)
    ticket = kiosk.check_in(today_appointments()[5])
    row = page.locator(f'tr[data-checkin-id="{ticket["checkin_id"]}"]')
    row.wait_for(timeout=10000)
    row.locator("button.call").click()
    page.wait_for_selector(f'tr[data-checkin-id="{ticket["checkin_id"]}"][data-status="called"]')
    page.click("#sign-out")
    page.wait_for_url(re.compile(r"/desk/login"))
    assert "signed out" in page.inner_text("#notice")
    assert len(origins) >= 3 and set(origins) == {agent.url}
