"""Speech without a window: real espeak-ng WAVs, the voices of the 12 languages, the audio probe in a
subprocess per SDL back end, the headphone jack, and the words the screen reader makes of masked values."""

from __future__ import annotations

import array
import json
import math
import subprocess
import sys
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk.audio import HeadphoneJack
from kiosk.flow import Flow, FlowSettings
from kiosk.i18n import Catalogues
from kiosk.speech import VOICES, Segment, SpeechEngine, Voices, plain, speech_health, ssml, wav_seconds
from kiosk.view import build_view
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR, KioskSection

LANGUAGES = ["en", "es", "zh-Hans", "zh-Hant", "vi", "ko", "tl", "ru", "ar", "ht", "fr", "pt", "de"]


@pytest.fixture(scope="module")
def voices() -> Voices:
    return Voices.discover()


def rms(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@pytest.mark.wcag("5.1.3.14", product="kiosk")
def test_every_offered_language_has_a_voice_or_an_honest_fallback(voices):
    """Spoken languages: each of the 12 kiosk languages has an espeak-ng voice, Tagalog an honest stand-in."""
    assert set(VOICES) == set(LANGUAGES)
    choices = [voices.choose(language) for language in LANGUAGES]
    for choice in choices:
        assert choice.voice in voices.installed, choice
    tagalog = voices.choose("tl")
    assert not tagalog.exact and tagalog.voice == "id" and "no voice" in tagalog.note
    assert voices.choose("es", "es").voice == "es"  # the catalogue's own voice wins when installed
    assert voices.choose("de", "xx-none").voice == "de"
    health = speech_health(choices)
    assert health.state == "degraded" and "tl: no voice, read with the Indonesian voice" in health.reason
    assert speech_health([voices.choose("en"), voices.choose("es")]).state == "online"
    assert Voices(set()).choose("en").voice == "" and speech_health([Voices(set()).choose("en")]).state == "offline"


def test_the_engine_writes_a_wav_per_utterance_and_its_transcript(tmp_path):
    played: list[tuple[float, str]] = []
    engine = SpeechEngine(lambda path, words: played.append((wav_seconds(path), plain(words))), record_dir=tmp_path)
    try:
        engine.say([Segment("Your number is"), Segment("K1-001", spell=True), Segment(".")], "en-us")
        deadline = time.monotonic() + 20
        while not engine.idle and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.close()
    [line] = [json.loads(text) for text in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    assert (line["text"], line["spelled"], line["voice"]) == ("Your number is K1-001.", ["K1-001"], "en-us")
    seconds = wav_seconds(tmp_path / line["wav"])
    assert 1.0 < seconds < 8 and played == [(seconds, "Your number is K1-001.")]


def test_rate_and_volume_change_the_sound_itself(tmp_path):
    engine = SpeechEngine(None)
    words = [Segment("Please sit down. The front desk will call your number.")]
    try:
        normal = engine.synthesize(words, "en-us", tmp_path / "normal.wav")
        assert engine.adjust_rate(+1) and engine.adjust_rate(+1)
        assert engine.adjust_volume(+1) and engine.adjust_volume(+1)
        faster_louder = engine.synthesize(words, "en-us", tmp_path / "fast.wav")
        while engine.adjust_volume(-1):
            pass
        assert not engine.adjust_volume(-1)  # at the limit: said so, not wrapped round
        softest = engine.synthesize(words, "en-us", tmp_path / "soft.wav")
    finally:
        engine.close()
    assert wav_seconds(faster_louder) < 0.9 * wav_seconds(normal)
    assert rms(faster_louder) > 1.2 * rms(normal) and rms(softest) < 0.5 * rms(normal)


def test_spelled_segments_are_ssml_characters_and_text_is_escaped():
    assert ssml([Segment("A & B <"), Segment("R", spell=True)]) == (
        '<speak>A &amp; B &lt; <say-as interpret-as="characters">R</say-as></speak>'
    )
    assert plain([Segment("Done"), Segment("."), Segment("Next"), Segment(",  not finished")]) == "Done. Next,  not finished"


def probe_with(driver: str) -> dict:
    code = "import json; from kiosk import audio; print(json.dumps(audio.probe().health().model_dump()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"SDL_AUDIODRIVER": driver, "KIVY_NO_CONSOLELOG": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_audio_probe_tells_a_null_sink_from_no_device():
    null_sink = probe_with("dummy")
    assert (null_sink["name"], null_sink["kind"], null_sink["state"]) == ("audio", "audio_output", "degraded")
    assert "null sink" in null_sink["reason"]
    missing = probe_with("none")
    assert missing["state"] == "offline" and missing["reason"].startswith("no audio output:")


def test_headphone_jack_from_a_file(tmp_path):
    jack = HeadphoneJack(f"file:{tmp_path / 'jack'}")
    assert jack.configured and not jack.plugged()  # no file yet: unplugged
    for text, plugged in (("1\n", True), ("off", False), ("plugged", True), ("0", False)):
        (tmp_path / "jack").write_text(text)
        assert jack.plugged() is plugged
    assert not HeadphoneJack("").configured


def test_keypad_keys_are_configurable_and_distinct():
    assert KioskSection().keypad_keys.model_dump() == {"up": 273, "down": 274, "select": 13, "back": 8, "help": 282,
                                                       "louder": None, "softer": None, "faster": None, "slower": None}  # fmt: skip
    assert KioskSection(keypad_keys={"select": 32, "louder": 280}).keypad_keys.select == 32
    with pytest.raises(ValueError, match="its own key code"):
        KioskSection(keypad_keys={"up": 274})
    with pytest.raises(ValueError, match="alsa:CARD:CONTROL"):
        KioskSection(headphone_jack="/dev/snd")


@pytest.fixture
def reader():
    """The screen reader over a real flow and catalogue (no window: words only)."""
    from kiosk.screen_reader import Reader

    catalogues = Catalogues.load(DEFAULT_TRANSLATIONS_DIR)
    flow = Flow(FlowSettings(), clock=time.monotonic, date_order=lambda language: catalogues.locale(language).date_order)
    app = SimpleNamespace(flow=flow, catalogues=catalogues, view=build_view(flow, catalogues, "Clinic"))

    def refresh():
        app.view = build_view(flow, catalogues, "Clinic")

    return Reader(app), flow, refresh


def test_masks_patterns_and_tickets_are_spoken_as_meant(reader):
    read, flow, refresh = reader
    assert plain(read.words("Member id ••••42")) == "Member id ending in 42"
    assert plain(read.words("****")) == "4 digits typed"
    assert plain(read.words("[b][u]Español[/u][/b]")) == "Español"
    assert plain(read.words("Date of birth (MM/DD/YYYY)")) == "Date of birth, month, day, year"
    assert read.words("Now calling: A-017 Room 2") == [Segment("Now calling:"), Segment("A-017", spell=True), Segment("Room 2")]
    flow.choose_language("es")
    refresh()
    assert plain(read.words("Fecha de nacimiento (DD/MM/AAAA)")) == "Fecha de nacimiento, día, mes, año"


def test_a_birth_date_being_typed_is_said_as_a_date(reader):
    read, flow, refresh = reader
    flow.start(), flow.type_by_hand(), flow.focus("birth")
    said = []
    for digit in "03141952":
        flow.key(digit)
        said.append(plain(read.birth_value(False)))
    assert said[1] == "March, not finished" and said[3] == "March, day 14, not finished"
    assert said[-1] == "March 14, 1952"
    assert not any("MM" in text or "/" in text for text in said)
    flow.backspace(), flow.key("9"), flow.choose_language("es")
    refresh()
    assert plain(read.birth_value(False)) == "día 3, mes 14, año 1959, sin terminar"  # DMY: 14 is no month
    for _ in range(8):
        flow.backspace()
    for digit in "14031952":
        flow.key(digit)
    assert plain(read.birth_value(False)) == "14 de marzo de 1952"
