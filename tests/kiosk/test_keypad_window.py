"""Speech and the keypad in the real kiosk app under Xvfb: what was spoken is espeak-ng's real WAV output,
kept per utterance (KIOSK_SPEECH_RECORD_DIR); the audio output is SDL's null sink or no device at all."""

from __future__ import annotations

import json
import re
import sqlite3
import wave
from pathlib import Path

import pytest

from tests.kiosk.test_window import Scenario, arrivals

pytestmark = pytest.mark.window
KEYBOARD_KEYS = set("QWERTYUIOPASDFGHJKLZXCVBNM") | {"Ñ", "Á", "É", "Í", "Ó", "Ú", "Ü"}


def spoken(folder: Path) -> list[dict]:
    lines = [json.loads(line) for line in (folder / "transcript.jsonl").read_text(encoding="utf-8").splitlines()]
    for line in lines:
        with wave.open(str(folder / line["wav"]), "rb") as wav:
            line["seconds"] = wav.getnframes() / wav.getframerate()
    return lines


def first_index(lines: list[dict], words: str) -> int:
    return next(i for i, line in enumerate(lines) if words in line["text"])


def assert_plausible(line: dict) -> None:
    """A WAV as long as its words take to say: about 0.03-0.15 s a character (spelled text is slower)."""
    characters = len(line["text"]) + 2 * sum(len(s) for s in line["spelled"])
    assert 0.3 < line["seconds"] < 0.15 * characters + 2, line
    assert line["seconds"] > 0.02 * len(line["text"]), line


def keys_read_out(text: str) -> set[str]:
    """On-screen keyboard letters said as words of their own (spelled segments excluded by the caller)."""
    return {word for word in re.findall(r"\b\w\b", text) if word in KEYBOARD_KEYS}


@pytest.mark.wcag("5.1.3.1", "5.1.6.1", "5.5.2", product="kiosk")
@pytest.mark.timeout(400)
def test_a_patient_who_cannot_see_the_screen_checks_in_with_the_keypad_and_headphones(tmp_path, agent, monkeypatch):
    """Blind check-in: headphones and the EZ-Access keypad only; speech says each screen, control and the ticket."""
    speech = tmp_path / "speech"
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    monkeypatch.setenv("KIOSK_SPEECH_RECORD_DIR", str(speech))
    jack = tmp_path / "headphones"
    jack.write_text("0")
    scenario = Scenario(tmp_path, "blind_checkin", agent, headphone_jack=f"file:{jack}")
    scenario.run(timeout_s=330)  # spoken in real time: ~70 s on a quiet machine, ~115 s on a loaded one
    done = scenario.event("done")
    assert done["touches"] == 0
    [arrival] = arrivals(agent)
    assert arrival["ticket"] == done["ticket"] and arrival["appointment_id"].startswith("demo-")
    assert scenario.event("typed_name") == {**scenario.event("typed_name"), "family": "ROSSI", "focus": "birth"}
    ring = scenario.event("ring")
    assert ring["shown"] and ring["focused"] == "Check in"
    assert ring["rect"][:2] == [ring["widget"][0] - 4, ring["widget"][1] - 4]

    lines = spoken(speech)
    titles = ["Headphones connected", "Welcome to Test Clinic", "Scan your license",
              "Type your last name", "Is this you?", "Form 1 of", "Form 2 of", "You're checked in"]  # fmt: skip
    order = [first_index(lines, title) for title in titles]
    assert order == sorted(order), [lines[i]["text"] for i in order]
    ticket_said = [line for line in lines[order[-1] :] if done["ticket"] in line["spelled"]]
    assert ticket_said, [line["text"] for line in lines[order[-1] :]]
    assert any("Up and down move between the buttons" in line["text"] for line in lines)  # the help key
    # The letter wheel spoke letters spelled; the screen itself never read its 45 keys.
    manual = lines[order[3]]
    assert not keys_read_out(manual["text"]), manual["text"]
    assert "Last name edit field: empty" in manual["text"] and "Next" in manual["text"]
    assert {"R", "O", "S", "I"} <= {s for line in lines for s in line["spelled"]}
    birth = [line["text"] for line in lines if "March 3, 1962" in line["text"]]
    assert birth and not any("MM" in line["text"] or "YYYY" in line["text"] for line in lines)
    assert all(line["voice"] == "en-us" for line in lines)
    for line in lines:
        assert_plausible(line)
    louder = scenario.event("louder")
    assert louder["volume"] > done["volume"] and lines[-1]["volume"] == louder["volume"]
    with sqlite3.connect(agent.current.store_path) as db:
        heartbeat = json.loads(db.execute("SELECT heartbeat FROM kiosks WHERE kiosk_id = 'kiosk-1'").fetchone()[0])
    audio = next(device for device in heartbeat["devices"] if device["kind"] == "audio_output")
    assert audio["state"] == "degraded" and "null sink" in audio["reason"]


@pytest.mark.wcag("5.1.3.1", product="kiosk")
def test_read_aloud_says_the_screen_and_the_date_as_a_date_not_the_keys(tmp_path, agent, monkeypatch):
    """Read aloud: the screen's words and the date typed so far as a date, never the 45 keys (was 31 s)."""
    speech = tmp_path / "speech"
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    monkeypatch.setenv("KIOSK_SPEECH_RECORD_DIR", str(speech))
    Scenario(tmp_path, "read_aloud_manual", agent).run()
    partial, whole = spoken(speech)
    for line in (partial, whole):
        assert line["text"].startswith("Date of birth.")  # one field at a time, right above the keys
        assert not keys_read_out(line["text"]) and "YYYY" not in line["text"] and ">" not in line["text"]
        assert "Date of birth, month, day, year edit field:" in line["text"]
        assert "Last name: ROSSI" in line["text"]  # the name typed, as the button that goes back to it
        assert_plausible(line)
        assert line["seconds"] < 15  # was 31 s: every key of the keyboard before anything useful
    assert "March, day 03, year not finished" not in partial["text"] and "March, day 3, not finished" in partial["text"]
    assert "March 3, 1962" in whole["text"]


@pytest.mark.wcag("5.1.3.1", product="kiosk")
def test_without_an_audio_device_read_aloud_says_sound_unavailable_and_the_desk_sees_it(tmp_path, agent, monkeypatch):
    """No audio device: the read-aloud button says 'Sound unavailable' and the heartbeat reports audio offline."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "none")  # an SDL back end that cannot open: no device, on any machine
    monkeypatch.setenv("KIOSK_SPEECH_RECORD_DIR", str(tmp_path / "speech"))
    scenario = Scenario(tmp_path, "no_audio", agent)
    scenario.run()
    shown = scenario.event("no_audio")
    assert (shown["text"], shown["disabled"], shown["opacity"]) == ("Sound unavailable", True, 1)
    audio = next(h for h in shown["health"] if h["kind"] == "audio_output")
    assert audio["state"] == "offline" and "no audio output" in audio["reason"]
    assert scenario.event("after_keys")["step"] == "identify"  # the first key wakes, the second presses
    assert not (tmp_path / "speech").exists()  # nothing was synthesised for nobody
    with sqlite3.connect(agent.current.store_path) as db:
        heartbeat = json.loads(db.execute("SELECT heartbeat FROM kiosks WHERE kiosk_id = 'kiosk-1'").fetchone()[0])
    assert any(device["kind"] == "audio_output" and device["state"] == "offline" for device in heartbeat["devices"])
