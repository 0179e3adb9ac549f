"""The lobby board in real headless Chromium: the call on one line, every site language shown and spoken
from the board catalogue, the site's own per-language room names."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from .conftest import FRONT_DESK, REPO, AgentProcess, Kiosk, Staff, today_appointments

pytestmark = pytest.mark.browser

SHIPPED = REPO / "config" / "translations"
BOARD_FILES = (REPO / "edge_agent/desk/templates/board.html", REPO / "edge_agent/desk/static/board.js")
SITE_ROOMS = {"en": {"room.Lab": "Laboratory"}, "es": {"room.Lab": "Laboratorio"}}
# Records what the board asks speechSynthesis to say (headless Chromium has no voices to hear).
RECORD_SPEECH = """
window.__spoken = [];
if (window.speechSynthesis) speechSynthesis.speak = (u) => window.__spoken.push({ text: u.text, lang: u.lang });
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """An agent whose site translations add its own room names in each language."""
    root = tmp_path_factory.mktemp("board-agent")
    translations = root / "translations"
    shutil.copytree(SHIPPED, translations)
    for lang, rooms in SITE_ROOMS.items():
        path = translations / f"board.{lang}.json"
        path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **rooms}), encoding="utf-8")
    process = AgentProcess(root, top_level=f'translations_dir = "{translations}"\n')
    process.prepare()
    process.start()
    try:
        yield process
    finally:
        process.stop()


def board_catalogue(lang: str) -> dict[str, str]:
    return json.loads((SHIPPED / f"board.{lang}.json").read_text(encoding="utf-8"))


def test_the_board_catalogues_hold_every_board_string():
    english, spanish = board_catalogue("en"), board_catalogue("es")
    assert english.keys() == spanish.keys()
    used = set()
    for path in BOARD_FILES:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:data-text="|t\["|text\[")(board\.[a-z_]+)', source))
        used |= set(re.findall(r'"(board\.[a-z_]+)"', source))
    assert used and used <= english.keys(), used - english.keys()
    # No English word is written into the board's files (comments aside): every one comes from the catalogue.
    for path in BOARD_FILES:
        source = re.sub(r"(?m)^\s*//.*$|\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        for key, value in english.items():
            if len(value) > 3 and key not in {"board.speech_lang"}:
                assert value not in source, (path.name, key)


def call(agent: AgentProcess, index: int, room: str) -> str:
    kiosk, staff = Kiosk(agent), Staff(agent, *FRONT_DESK)
    try:
        checkin = kiosk.check_in(today_appointments()[index])
        assert staff.post(f"/api/v1/queue/{checkin['checkin_id']}/call", {"room": room}).status_code == 200
        return checkin["ticket"]
    finally:
        kiosk.close()
        staff.close()


def open_board(new_page, agent, width: int, height: int, query: str = ""):
    page = new_page(width, height)
    page.add_init_script(RECORD_SPEECH)
    page.goto(f"{agent.url}/board{query}")
    page.wait_for_function("() => document.getElementById('connection').hidden")
    return page


def call_line(page) -> dict:
    return page.evaluate(
        """() => { const line = document.getElementById('now-calling');
            const ticket = document.getElementById('now-ticket').getBoundingClientRect();
            const spans = [...line.querySelectorAll('span')].filter((s) => !s.children.length);
            const oneLine = spans.every((s) => s.getClientRects().length === 1
                && s.getBoundingClientRect().top < ticket.bottom && s.getBoundingClientRect().bottom > ticket.top);
            return { text: line.innerText.replace(/\\s+/g, ' ').trim(), lang: line.closest('[lang]').lang,
                     oneLine, fits: line.scrollWidth <= line.clientWidth + 1,
                     ticketPx: parseFloat(getComputedStyle(document.getElementById('now-ticket')).fontSize) }; }"""
    )


@pytest.mark.wcag("1.3.4", "3.1.2", "4.1.3")
@pytest.mark.parametrize("width,height", [(1920, 1080), (1080, 1920)])
def test_now_calling_is_one_line_in_each_language_in_turn_and_spoken_in_each(agent, new_page, width, height):
    board = open_board(new_page, agent, width, height)
    ticket = call(agent, 0 if width > height else 1, "2")
    board.wait_for_function("t => document.getElementById('now-ticket').textContent === t", arg=ticket)
    first = call_line(board)
    board.screenshot(path=str(agent.root / f"board-{width}x{height}.png"))
    assert first["text"] == f"Now calling {ticket} — Room 2" and first["lang"] == "en"
    assert first["oneLine"] and first["fits"], first  # one line: the room cannot pass for the next ticket's
    assert first["ticketPx"] >= 60, first  # still readable across the waiting room
    assert board.inner_text("#announcement") == f"Now calling {ticket}, Room 2."  # status message (4.1.3)
    spoken = board.wait_for_function("() => window.__spoken.length >= 2 && window.__spoken").json_value()
    spaced = " ".join(ticket.replace("-", " "))
    assert spoken == [
        {"text": f"Ticket {spaced}, please go to Room 2.", "lang": "en-US"},
        {"text": f"Turno {spaced}, pase a Sala 2.", "lang": "es-ES"},
    ]
    board.wait_for_function("() => document.getElementById('board-main').lang === 'es'", timeout=20000)
    second = call_line(board)
    assert second["text"] == f"Llamando a {ticket} — Sala 2" and second["oneLine"] and second["fits"]
    assert board.text_content("#next-title") == board_catalogue("es")["board.next"]
    board.wait_for_function("() => document.getElementById('board-main').lang === 'en'", timeout=20000)


def test_a_spanish_first_board_shows_no_english_and_uses_the_sites_room_names(agent, new_page):
    board = open_board(new_page, agent, 1920, 1080, "?lang=es")
    ticket = call(agent, 2, "Lab")
    board.wait_for_function("t => document.getElementById('now-ticket').textContent === t", arg=ticket)
    assert call_line(board)["text"] == f"Llamando a {ticket} — Laboratorio"
    shown = board.inner_text("body")
    english, spanish = board_catalogue("en"), board_catalogue("es")
    for key, value in english.items():
        if value != spanish[key] and len(value) > 3:
            assert value not in shown, key
    board.wait_for_function("() => document.getElementById('board-main').lang === 'en'", timeout=20000)
    assert call_line(board)["text"] == f"Now calling {ticket} — Laboratory"


def test_board_page_bytes_carry_no_patient_name(agent, new_page):
    appointment = today_appointments()[3]
    call(agent, 3, "5")
    page = open_board(new_page, agent, 1920, 1080)
    page.wait_for_function("() => document.querySelectorAll('#now-calling .ticket').length")
    html = page.content()
    assert appointment.family not in html and appointment.birth_date.isoformat() not in html
    assert not Path(agent.root / "agent.log").read_text().count(appointment.family)
