"""The real kiosk app in a real window under Xvfb, touched like a patient would, against a real agent
and the simulated lobby. Each scenario runs in its own process on its own fresh display."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path
from typing import Callable

import pytest

from edge_agent.schedule import demo_appointments
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from tests.agent.launcher import site_toml

pytestmark = pytest.mark.window
DRIVER = Path(__file__).with_name("window_driver.py")
FIRST_FRAME_TIMEOUT_S = 60
SCENARIO_TIMEOUT_S = 150


class Scenario:
    def __init__(self, tmp_path: Path, name: str, agent, top_level: dict | None = None, **kiosk: object):
        self.name = name
        self.workdir = tmp_path / f"kiosk-{name}"
        self.workdir.mkdir()
        url, token = (agent.current.base_url, agent.current.token) if agent is not None else ("http://127.0.0.1:9", "")
        settings = {"id": "kiosk-1", "agent_url": url, "token": token,
                    "spool_dir": str(self.workdir / "spool"), "ticket_prefix": "K1", **kiosk}  # fmt: skip
        (self.workdir / "site.toml").write_text(site_toml({"": top_level or {}, "site": {"name": "Test Clinic"}, "kiosk": settings}))
        self.log_path = self.workdir / "app.log"
        self.events: list[dict] = []

    def proceed(self, name: str) -> None:
        (self.workdir / f"proceed-{name}").touch()

    def run(self, on_event: Callable[[dict], None] = lambda event: None, timeout_s: float = SCENARIO_TIMEOUT_S) -> list[dict]:
        self.timeout_s = timeout_s
        env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(self.workdir / "kivy-home")}
        size = (self.workdir / "window-size").read_text().strip() if (self.workdir / "window-size").exists() else "1080x1920"
        command = ["xvfb-run", "-a", "-s", f"-screen 0 {size}x24", sys.executable, str(DRIVER), self.name, str(self.workdir)]
        with self.log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            self._follow(process, on_event)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        return self.events

    def _follow(self, process: subprocess.Popen, on_event) -> None:
        started = time.monotonic()
        events_path = self.workdir / "events.jsonl"
        seen = 0
        while True:
            lines = events_path.read_text().splitlines() if events_path.exists() else []
            for line in lines[seen:]:
                event = json.loads(line)
                self.events.append(event)
                if event["event"] == "failed":
                    pytest.fail(f"{self.name}: {event['why']}\n--- app log ---\n{self.log_tail()}")
                on_event(event)
            seen = len(lines)
            if process.poll() is not None:
                assert process.returncode == 0, f"{self.name} exited {process.returncode}\n{self.log_tail()}"
                return
            elapsed = time.monotonic() - started
            if not self.event("first_frame") and elapsed > FIRST_FRAME_TIMEOUT_S:
                pytest.fail(f"{self.name}: the app never drew a frame\n{self.log_tail()}")
            if elapsed > self.timeout_s:
                pytest.fail(f"{self.name}: did not finish in {self.timeout_s} s\n{self.log_tail()}")
            time.sleep(0.1)

    def event(self, name: str) -> dict | None:
        return next((event for event in self.events if event["event"] == name), None)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


def arrivals(agent) -> list[sqlite3.Row]:
    with sqlite3.connect(agent.current.store_path) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM arrivals").fetchall()


def finish_when_done(scenario: Scenario):
    def on_event(event: dict) -> None:
        if event["event"] == "done":
            scenario.proceed("finish")

    return on_event


def test_full_check_in_by_touch_prints_a_ticket_that_is_in_the_agents_queue(tmp_path, agent):
    scenario = Scenario(tmp_path, "full_checkin", agent)
    scenario.run(finish_when_done(scenario))
    done = scenario.event("done")
    assert done["printed"] and not done["on_screen"]
    assert any(done["ticket"] in receipt for receipt in done["receipts"]), done["receipts"]
    [arrival] = arrivals(agent)
    assert (arrival["ticket"], arrival["kiosk_id"], arrival["status"]) == (done["ticket"], "kiosk-1", "waiting")
    assert arrival["appointment_id"].startswith("demo-")
    cleared = scenario.event("cleared")
    assert cleared == {**cleared, "notice": "Please sign in the box first.", "ink": 0, "strokes": 0, "still_on_form": 2}
    devices = [event["device"] for event in scenario.events if event["event"] == "form_signed"]
    assert devices[0] == "pad" and set(devices[1:]) <= {"touch"}
    assert scenario.event("after") == {**scenario.event("after"), "phi": [], "signature_ink": 0}
    # "Is this still right?" shows the endings of Giulia Rossi's file, never the file itself.
    [rossi] = [a for a in demo_appointments("test-site", dt.datetime.now(dt.UTC).date(), zoneinfo.ZoneInfo("UTC"))
               if a.family == "Rossi"]  # fmt: skip
    street, phone = rossi.demographics.address.street, rossi.demographics.phone
    hints, yes, changed = scenario.event("review")["texts"]
    assert f"Street number ending …{''.join(c for c in street if c.isdigit())[-2:]}" in hints
    assert f"Phone ending …{phone[-2:]}" in hints and f"Member ID ending …{rossi.coverage.member_id[-3:]}" in hints
    assert street not in hints and phone not in hints and rossi.coverage.member_id not in hints
    assert (yes, changed) == ("Yes, that's right", "Something changed")


def test_the_ticket_is_worded_from_the_sites_own_translations_dir(tmp_path, agent):
    folder = tmp_path / "site-translations"
    shutil.copytree(DEFAULT_TRANSLATIONS_DIR, folder)
    words = json.loads((folder / "devices.en.json").read_text(encoding="utf-8"))
    (folder / "devices.en.json").write_text(json.dumps({**words, "ticket.please_wait": "Riverside asks you to sit"}))
    scenario = Scenario(tmp_path, "full_checkin", agent, top_level={"translations_dir": str(folder)})
    scenario.run(finish_when_done(scenario))
    done = scenario.event("done")
    assert done["printed"] and any("Riverside asks you to sit" in receipt for receipt in done["receipts"]), done["receipts"]


@pytest.mark.wcag("5.1.3.14", product="kiosk")
def test_language_switch_mid_flow_keeps_progress_and_signs_in_spanish(tmp_path, agent, monkeypatch):
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")  # a null sink: read aloud plays, nobody hears
    monkeypatch.setenv("KIOSK_SPEECH_RECORD_DIR", str(tmp_path / "speech"))
    scenario = Scenario(tmp_path, "language_switch", agent)
    scenario.run()
    switched = scenario.event("switched")
    assert (switched["family_before"], switched["family_after"]) == ("Last name: ROSSI", "Apellido: ROSSI")
    assert (switched["search"], switched["step"]) == ("Buscar mi cita", "manual")
    assert "Sí" in scenario.event("confirm")["texts"]
    spoken = json.loads((tmp_path / "speech" / "transcript.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    large = scenario.event("large_text")
    assert '"Check-in - Test Clinic"' in large["title"]  # the X window's name, as a window manager sees it
    # Large text and high contrast are two choices: the first only enlarges, the second only recolours.
    assert large["larger"][0] >= 1.3 * large["before"][0] and large["larger"][1] == large["before"][1] == "standard"
    assert large["after"] == [large["larger"][0], "high_contrast"]
    assert large["label"] == "[b][u]Letra grande[/u][/b]"  # the mode's state is shown by weight and underline, not only colour
    assert scenario.event("read_aloud")["voice"] == spoken["voice"] == "es"
    assert "¿Es usted?" in spoken["text"] and "Sí" in spoken["text"]
    assert scenario.event("done")["title"] == "Ya está registrado"
    with sqlite3.connect(agent.current.store_path) as db:
        languages = {row[0] for row in db.execute("SELECT language FROM consents")}
    assert languages == {"es"}


def test_idle_timeout_warns_then_wipes_every_trace(tmp_path, agent):
    scenario = Scenario(tmp_path, "idle_timeout", agent, idle_timeout_s=15, idle_warning_s=5)
    (scenario.workdir / "window-size").write_text("1080x1920")  # the real portrait kiosk: touch targets in mm
    scenario.run()
    screens = [event for event in scenario.events if event["event"] == "ergonomics"]
    assert [screen["step"] for screen in screens] == ["attract", "identify", "manual"]
    for screen in screens:
        assert screen["smallest_mm"] >= 19, screen  # physical mm on the configured 21.5" panel
    assert scenario.event("typed")["texts"], "the typed name and birth date were on screen before the timeout"
    warning = " ".join(scenario.event("warning")["texts"])
    assert "Are you still there?" in warning and "seconds" in warning
    assert scenario.event("after")["phi"] == []
    assert arrivals(agent) == []


def test_printer_out_of_paper_shows_the_ticket_large_and_flags_staff(tmp_path, agent):
    scenario = Scenario(tmp_path, "printer_out_of_paper", agent)
    scenario.run(finish_when_done(scenario))
    done = scenario.event("done")
    assert done["on_screen"] and not done["printed"] and done["receipts"] == []
    assert "No ticket printed" in done["instruction"]
    [arrival] = arrivals(agent)
    assert arrival["ticket"] == done["ticket"]
    with sqlite3.connect(agent.current.store_path) as db:
        help_flag = db.execute("SELECT value FROM meta WHERE key = 'help:kiosk-1'").fetchone()
        heartbeat = json.loads(db.execute("SELECT heartbeat FROM kiosks WHERE kiosk_id = 'kiosk-1'").fetchone()[0])
    assert help_flag is not None
    printer = next(device for device in heartbeat["devices"] if device["kind"] == "receipt_printer")
    assert printer["state"] == "offline" and printer["reason"] == "paper out"
    staff = scenario.event("staff")
    assert staff["wrong"] == "Wrong PIN"
    assert "receipt-printer (receipt_printer): offline paper out" in staff["status"]
    assert any("Agent: connected" in text for text in staff["shown"])


def test_agent_killed_mid_session_then_restarted_gets_the_spooled_check_in_once(tmp_path, agent):
    scenario = Scenario(tmp_path, "agent_killed", agent)

    def on_event(event: dict) -> None:
        if event["event"] == "at_confirm":
            agent.current.stop(signal.SIGKILL)
            scenario.proceed("agent-killed")
        elif event["event"] == "done":
            agent.restart()
        elif event["event"] == "spool_empty":
            scenario.proceed("finish")

    scenario.run(on_event)
    done = scenario.event("done")
    assert done["offline"] and done["ticket"] == "K1-001" and done["spooled"] == 1
    [arrival] = arrivals(agent)
    assert (arrival["ticket"], arrival["offline"]) == ("K1-001", 1)
    assert arrival["appointment_id"].startswith("demo-")
    with sqlite3.connect(agent.current.store_path) as db:
        assert db.execute("SELECT count(*) FROM consents WHERE checkin_id = ?", (arrival["checkin_id"],)).fetchone()[0] >= 1


def test_demo_autopilot_checks_a_scanned_patient_in_and_photographs_each_screen(tmp_path, agent):
    scenario = Scenario(tmp_path, "demo_patient", agent)
    scenario.run()
    checked_in = scenario.event("checked_in")
    [arrival] = arrivals(agent)
    assert (arrival["ticket"], arrival["identity_source"]) == (checked_in["ticket"], "aamva")
    assert arrival["appointment_id"].startswith("demo-")
    devices = [event["device"] for event in scenario.events if event["event"] == "form_signed"]
    assert devices[0] == "pad" and set(devices[1:]) == {"touch"}
    said = [line for line in scenario.log_path.read_text(errors="replace").splitlines() if line.startswith("autopilot:")]
    assert said[0] == f"autopilot: patient 1 checked in, ticket {checked_in['ticket']}"
    assert not any(marker in line for line in said for marker in ("Rossi", "ROSSI", "Giulia", "1962"))
    shots = sorted(path.name for path in (scenario.workdir / "screens").glob("*.png"))
    assert shots == ["01-attract.png", "02-confirm.png", "03-review.png", "04-forms.png", "05-done.png", "06-ticket.png"]
    assert all((scenario.workdir / "screens" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in shots)
