"""The staff API and sign-in against a real agent process: sessions, CSRF, idle sign-out,
privacy of the board, SSE resume, actions and their audit trail."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import FRONT_DESK, REPO, Staff, edge_agent_cli, sign_in, today_appointments

PATIENT_ENDPOINTS = [
    ("GET", "/api/v1/queue"),
    ("GET", "/api/v1/queue/events"),
    ("GET", "/api/v1/queue/00000000-0000-4000-8000-000000000000"),
    ("GET", "/api/v1/devices"),
    ("GET", "/api/v1/sync"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/stats.csv"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit.csv"),
    ("GET", "/api/v1/desk/session"),
    ("POST", "/api/v1/queue/00000000-0000-4000-8000-000000000000/call"),
    ("POST", "/api/v1/queue/00000000-0000-4000-8000-000000000000/room"),
    ("POST", "/api/v1/queue/00000000-0000-4000-8000-000000000000/complete"),
    ("POST", "/api/v1/queue/00000000-0000-4000-8000-000000000000/no-show"),
    ("POST", "/api/v1/queue/undo"),
    ("POST", "/api/v1/queue/00000000-0000-4000-8000-000000000000/changes/insurance/accept"),
    ("POST", "/api/v1/queue/00000000-0000-4000-8000-000000000000/reprint"),
    ("POST", "/api/v1/kiosks/kiosk-1/help-handled"),
    ("POST", "/api/v1/sync/dead-letters/1/retry"),
    ("POST", "/api/v1/sync/dead-letters/1/discard"),
]


def audit_actions(admin: Staff) -> list[tuple[str, str, str]]:
    entries = admin.http.get("/api/v1/audit", params={"limit": 500}).json()["entries"]
    return [(e["actor"], e["action"], e["subject"]) for e in entries]


def read_events(client: httpx.Client, path: str, *, until, headers: dict | None = None, on_open=None,
                timeout: float = 15) -> tuple[list[dict], bytes]:
    """Read an SSE stream until `until(events)` holds; `on_open()` runs once the stream answered.
    Returns the parsed events and the raw bytes."""
    events, raw, buffer = [], b"", b""
    deadline = time.monotonic() + timeout
    with client.stream("GET", path, headers=headers, timeout=httpx.Timeout(timeout, read=timeout)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        if on_open:
            on_open()
        for chunk in response.iter_raw():
            raw += chunk
            buffer += chunk
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                lines = [line.split(": ", 1) for line in frame.decode().splitlines() if not line.startswith(":")]
                fields = dict(line for line in lines if len(line) == 2)
                if "data" in fields:
                    events.append({"id": fields.get("id"), "type": fields.get("event", "message"),
                                   "data": json.loads(fields["data"])})
            if until(events) or time.monotonic() > deadline:
                break
    assert until(events), f"stream ended before the expected events: {events}"
    return events, raw


def test_every_patient_endpoint_refuses_without_a_session(agent):
    with httpx.Client(base_url=agent.url, timeout=10) as anonymous:
        for method, path in PATIENT_ENDPOINTS:
            response = anonymous.request(method, path)
            assert response.status_code == 401, (method, path, response.status_code)
        page = anonymous.get("/desk", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/desk/login"
        # A made-up cookie is no session either.
        anonymous.cookies.set("desk_session", "forged-token")
        assert anonymous.get("/api/v1/queue").status_code == 401
        assert anonymous.get("/desk", follow_redirects=False).status_code == 303


def test_sign_in_sets_a_strict_http_only_session_cookie_and_sign_out_ends_it(agent):
    with httpx.Client(base_url=agent.url, timeout=30, headers={"Origin": agent.url}) as http:
        response = sign_in(http, *FRONT_DESK)
        assert response.status_code == 303 and response.headers["location"] == "/desk"
        cookie = response.headers["set-cookie"].lower()
        assert "desk_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert "secure" not in cookie  # plain HTTP on loopback; Secure is set whenever the agent uses TLS
        csrf = http.get("/api/v1/desk/session").json()["csrf_token"]
        assert http.get("/desk").status_code == 200
        token = http.cookies["desk_session"]
        assert http.post("/desk/logout", data={"csrf_token": csrf}).status_code == 303
        http.cookies.set("desk_session", token)  # replaying the old cookie does not bring the session back
        assert http.get("/api/v1/queue").status_code == 401


def test_pages_speak_the_site_languages(agent):
    with httpx.Client(base_url=agent.url, timeout=30, headers={"Origin": agent.url}) as http:
        assert "Acceso de recepción" in http.get("/desk/login", headers={"Accept-Language": "es-MX,es;q=0.9"}).text
        assert "Llamando a" in http.get("/board", params={"lang": "es"}).text
        assert "Front desk sign-in" in http.get("/desk/login", headers={"Accept-Language": "fr-FR"}).text


def test_sign_in_form_without_its_csrf_token_is_refused(agent):
    with httpx.Client(base_url=agent.url, timeout=30, headers={"Origin": agent.url}) as http:
        http.get("/desk/login")
        response = http.post("/desk/login", data={"username": FRONT_DESK[0], "password": FRONT_DESK[1]})
        assert response.status_code == 403
        assert "desk_session" not in http.cookies


def test_state_changes_without_the_csrf_token_are_refused(agent, kiosk, front_desk):
    ticket = kiosk.check_in(today_appointments()[0])
    checkin_id = ticket["checkin_id"]
    call = f"/api/v1/queue/{checkin_id}/call"
    assert front_desk.http.post(call, json={"room": "3"}).status_code == 403
    assert front_desk.http.post(call, json={"room": "3"}, headers={"X-CSRF-Token": "guess"}).status_code == 403
    entry = front_desk.http.get(f"/api/v1/queue/{checkin_id}").json()
    assert entry["status"] == "waiting"  # nothing happened
    assert front_desk.post(call, json={"room": "3"}).status_code == 200
    assert front_desk.http.get(f"/api/v1/queue/{checkin_id}").json()["status"] == "called"


def test_a_session_idle_longer_than_the_site_setting_is_signed_out(agent, admin):
    idle = Staff(agent, *FRONT_DESK)
    try:
        assert idle.http.get("/api/v1/queue").status_code == 200
        with sqlite3.connect(agent.database, timeout=30) as conn:
            token_hash = hashlib.sha256(idle.http.cookies["desk_session"].encode()).hexdigest()
            conn.execute(
                "UPDATE staff_sessions SET last_seen_at = last_seen_at - 3600 WHERE token_hash = ?", (token_hash,)
            )
        assert idle.http.get("/api/v1/queue").status_code == 401
        assert idle.http.get("/desk").status_code == 303
    finally:
        idle.close()
    assert (FRONT_DESK[0], "signout.idle", FRONT_DESK[0]) in audit_actions(admin)


def test_actions_undo_and_audit(agent, kiosk, front_desk, admin):
    first, second = today_appointments()[1:3]
    a = kiosk.check_in(first)["checkin_id"]
    b = kiosk.check_in(second)["checkin_id"]

    def status(checkin_id: str) -> tuple[str, str]:
        entry = front_desk.http.get(f"/api/v1/queue/{checkin_id}").json()
        return entry["status"], entry["room"]

    assert front_desk.post(f"/api/v1/queue/{a}/call", {"room": "Room 3"}).json()["status"] == "called"
    assert front_desk.post(f"/api/v1/queue/{a}/room").json()["status"] == "roomed"
    assert status(a) == ("roomed", "Room 3")
    assert front_desk.post(f"/api/v1/queue/{a}/complete").json()["status"] == "done"
    assert front_desk.post(f"/api/v1/queue/{b}/no-show").json()["status"] == "no_show"
    refused = front_desk.post(f"/api/v1/queue/{b}/complete")
    assert refused.status_code == 409  # a no-show cannot be completed
    undone = front_desk.post("/api/v1/queue/undo").json()
    assert (undone["checkin_id"], undone["status"]) == (b, "waiting")
    assert status(b) == ("waiting", "")
    assert front_desk.post("/api/v1/queue/undo").json()["status"] == "roomed"
    assert status(a) == ("roomed", "Room 3")
    assert front_desk.post("/api/v1/queue/not-a-checkin/call").status_code == 404

    actions = audit_actions(admin)
    for expected in [("frontdesk", "arrival.call", a), ("frontdesk", "arrival.room", a),
                     ("frontdesk", "arrival.complete", a), ("frontdesk", "arrival.no_show", b),
                     ("frontdesk", "arrival.undo", b), ("frontdesk", "arrival.undo", a),
                     ("frontdesk", "patient.view", a), ("frontdesk", "patient.view", b)]:  # fmt: skip
        assert expected in actions, expected


def test_flagged_changes_reprint_and_help(agent, kiosk, front_desk, admin):
    appointment = today_appointments()[3]
    new_card = {"payor": "Acme Health", "member_id": "NEW123456", "source": "card"}
    checked_in = kiosk.check_in(appointment, coverage=new_card)
    checkin_id = checked_in["checkin_id"]
    assert checked_in["flags"] == []  # the kiosk is not told what the file holds; the desk is
    assert "insurance_changed" in front_desk.http.get(f"/api/v1/queue/{checkin_id}").json()["flags"]
    accepted = front_desk.post(f"/api/v1/queue/{checkin_id}/changes/insurance/accept")
    assert accepted.status_code == 200 and "insurance_changed" not in accepted.json()["flags"]
    assert front_desk.post(f"/api/v1/queue/{checkin_id}/changes/insurance/dismiss").status_code == 409

    reprint = front_desk.post(f"/api/v1/queue/{checkin_id}/reprint",
                              {"kind": "ticket", "kiosk_id": "kiosk-1", "printer": "receipt"})
    assert reprint.status_code == 202 and reprint.json()["ticket"] == checked_in["ticket"]
    pending = kiosk.http.get("/api/v1/kiosks/kiosk-1/reprints").json()["reprints"]
    mine = [r for r in pending if r["checkin_id"] == checkin_id]
    assert [(r["kind"], r["printer"], r["ticket"]) for r in mine] == [("ticket", "receipt", checked_in["ticket"])]
    assert kiosk.http.get("/api/v1/kiosks/kiosk-2/reprints").status_code == 403  # only its own
    assert front_desk.http.get("/api/v1/kiosks/kiosk-1/reprints").status_code == 401  # kiosks only
    assert kiosk.http.post(f"/api/v1/kiosks/kiosk-1/reprints/{mine[0]['request_id']}/done").status_code == 204
    assert all(r["checkin_id"] != checkin_id for r in kiosk.http.get("/api/v1/kiosks/kiosk-1/reprints").json()["reprints"])

    kiosk.ask_for_help()
    kiosks = front_desk.http.get("/api/v1/devices").json()["kiosks"]
    assert next(k for k in kiosks if k["kiosk_id"] == "kiosk-1")["help_requested_at"]
    assert front_desk.post("/api/v1/kiosks/kiosk-1/help-handled").status_code == 200
    assert front_desk.post("/api/v1/kiosks/kiosk-1/help-handled").status_code == 409
    kiosks = front_desk.http.get("/api/v1/devices").json()["kiosks"]
    assert next(k for k in kiosks if k["kiosk_id"] == "kiosk-1")["help_requested_at"] is None

    actions = audit_actions(admin)
    assert ("frontdesk", "change.insurance.accept", checkin_id) in actions
    assert ("frontdesk", "reprint.ticket", checkin_id) in actions
    assert ("frontdesk", "help.handled", "kiosk-1") in actions


def test_staff_stream_resumes_after_last_event_id_without_loss_or_repetition(agent, kiosk, front_desk):
    snapshot = front_desk.http.get("/api/v1/queue").json()
    resume_from = snapshot["last_event_id"]
    appointments = today_appointments()[4:7]
    checked_in = [kiosk.check_in(appointment)["checkin_id"] for appointment in appointments]

    def arrivals_of(events):
        return [e["data"]["checkin_id"] for e in events if e["type"] == "arrival"]

    events, _ = read_events(front_desk.http, "/api/v1/queue/events", headers={"Last-Event-ID": resume_from},
                            until=lambda evs: set(checked_in) <= set(arrivals_of(evs)))
    assert arrivals_of(events) == checked_in  # in order, each once
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(set(ids))
    # Resume again from the middle: exactly the later ones come back.
    middle = next(e["id"] for e in events if e["type"] == "arrival" and e["data"]["checkin_id"] == checked_in[0])
    later, _ = read_events(front_desk.http, "/api/v1/queue/events", headers={"Last-Event-ID": middle},
                           until=lambda evs: set(checked_in[1:]) <= set(arrivals_of(evs)))
    assert arrivals_of(later) == checked_in[1:]
    # An id the agent does not know (e.g. from before a restart) gets a reset: refetch the queue.
    reset, _ = read_events(front_desk.http, "/api/v1/queue/events", headers={"Last-Event-ID": "12"},
                           until=lambda evs: bool(evs))
    assert reset[0]["type"] == "reset"


def test_the_board_and_its_stream_carry_no_names_or_birth_dates(agent, kiosk, front_desk):
    appointments = today_appointments()[7:10]
    tickets = [kiosk.check_in(appointment) for appointment in appointments]
    called = tickets[0]["ticket"]

    def calls_the_ticket(events) -> bool:
        return any(call["ticket"] == called for e in events if e["type"] == "board" for call in e["data"]["now_calling"])

    with httpx.Client(base_url=agent.url, timeout=30, headers={"Origin": agent.url}) as public:
        _, stream_bytes = read_events(
            public, "/api/v1/board/events", until=calls_the_ticket,
            on_open=lambda: front_desk.post(f"/api/v1/queue/{tickets[0]['checkin_id']}/call", {"room": "Room 5"}),
        )  # fmt: skip
        page = public.get("/board").content
        state = public.get("/api/v1/board").content
    assert called.encode() in state and tickets[1]["ticket"].encode() in state
    everything = page + state + stream_bytes
    for appointment in today_appointments():
        for secret in (appointment.family, appointment.given, appointment.birth_date.isoformat(),
                       appointment.birth_date.strftime("%m/%d/%Y"), appointment.birth_date.strftime("%Y%m%d")):
            for encoded in (secret.encode(), json.dumps(secret).strip('"').encode()):
                assert encoded not in everything, secret


def test_dead_letters_and_stats_need_an_admin(agent, front_desk, admin):
    assert front_desk.post("/api/v1/sync/dead-letters/1/retry").status_code == 403
    assert front_desk.http.get("/api/v1/audit.csv").status_code == 403
    assert front_desk.http.get("/api/v1/stats.csv").status_code == 403
    stats = front_desk.http.get("/api/v1/stats").json()
    assert stats["checkins"] >= 1 and sum(stats["by_hour"].values()) == stats["checkins"]
    assert stats["kiosk"] + stats["desk"] == stats["checkins"]
    exported = admin.http.get("/api/v1/stats.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert f"checkins,,{stats['checkins']}" in exported.text
    audit_csv = admin.http.get("/api/v1/audit.csv").text
    assert audit_csv.startswith("id,at,actor,action,subject,detail") and "stats.export" in audit_csv


@pytest.mark.parametrize("password, problem", [("short", "password"), ("long-enough-pass", None)])
def test_add_staff_cli_validates(agent, password, problem):
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "add-staff", "newperson", "--role", "admin", "--password-stdin",
         "--config", str(agent.config)],
        cwd=REPO, input=password + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if problem:
        assert result.returncode == 1 and problem in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        with httpx.Client(base_url=agent.url, timeout=30, headers={"Origin": agent.url}) as http:
            assert sign_in(http, "newperson", password).status_code == 303
            assert http.get("/api/v1/desk/session").json()["role"] == "admin"
