"""Speech output: espeak-ng writes each utterance to a WAV file, the app plays it through the audio output.

An utterance is a list of `Segment`s; a spelled one ("R", a ticket "K1-001") is read character by
character (SSML say-as). Synthesis runs on one worker thread and the newest utterance wins: pressing a
key while the kiosk is talking stops the old sentence and says the new one. With
`KIOSK_SPEECH_RECORD_DIR` set (tests only: it holds what the patient heard) every utterance is also
kept there as NNNN.wav plus one line in transcript.jsonl.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable
from xml.sax.saxutils import escape

from lobby_core.contract import DeviceHealth

ESPEAK = "espeak-ng"
# The 12 languages the kiosk can offer -> espeak-ng voice. A catalogue's own `speech_voice` wins when installed.
VOICES = {
    "en": "en-us", "es": "es-419", "zh-Hans": "cmn", "zh-Hant": "yue", "vi": "vi", "ko": "ko", "tl": "tl",
    "ru": "ru", "ar": "ar", "ht": "ht", "fr": "fr-fr", "pt": "pt-br", "de": "de",
}  # fmt: skip
# espeak-ng has no Tagalog voice: Indonesian reads Tagalog's spelling (ng, vowels) closest. Said in health.
APPROXIMATIONS = {"tl": ("id", "Indonesian"), "ht": ("fr-fr", "French")}
RATES_WPM = (110, 130, 150, 175, 200, 225, 250)  # 175: espeak-ng's own
DEFAULT_RATE = 3
VOLUMES = (20, 40, 60, 80, 100, 130, 160, 200)  # espeak-ng amplitude, 100 = its normal
DEFAULT_VOLUME = 4


@dataclass(frozen=True)
class Segment:
    text: str
    spell: bool = False  # read letter by letter


Utterance = list[Segment]


PUNCTUATION = tuple(".,;:!?。，、؟")


def plain(utterance: Iterable[Segment]) -> str:
    """The words as one line; punctuation segments join the word before them."""
    out = ""
    for segment in utterance:
        if segment.text:
            out += segment.text if (not out or segment.text.startswith(PUNCTUATION)) else " " + segment.text
    return out


def ssml(utterance: Iterable[Segment]) -> str:
    parts = []
    for segment in utterance:
        text = escape(segment.text)
        parts.append(f'<say-as interpret-as="characters">{text}</say-as>' if segment.spell else text)
    return "<speak>" + " ".join(parts) + "</speak>"


@dataclass(frozen=True)
class VoiceChoice:
    language: str
    voice: str  # "" when nothing can speak this language
    exact: bool
    note: str = ""  # why it is not exact


class Voices:
    """The voices espeak-ng has here, and which one reads each language."""

    def __init__(self, installed: set[str]):
        self.installed = installed

    @classmethod
    def discover(cls) -> "Voices":
        if shutil.which(ESPEAK) is None:
            return cls(set())
        out = subprocess.run([ESPEAK, "--voices"], capture_output=True, text=True, timeout=10).stdout
        return cls({line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1})

    def choose(self, language: str, wanted: str = "") -> VoiceChoice:
        for voice in (wanted, VOICES.get(language, ""), language, language.split("-")[0]):
            if voice and voice in self.installed:
                return VoiceChoice(language, voice, True)
        if language in APPROXIMATIONS:
            voice, name = APPROXIMATIONS[language]
            if voice in self.installed:
                return VoiceChoice(language, voice, False, f"{language}: no voice, read with the {name} voice")
        return VoiceChoice(language, "", False, f"{language}: no voice, read aloud unavailable")


def speech_health(choices: list[VoiceChoice]) -> DeviceHealth:
    if not any(choice.voice for choice in choices):
        return DeviceHealth(name="speech", kind="speech", state="offline", reason=f"{ESPEAK} not installed or no voices")
    notes = [choice.note for choice in choices if not choice.exact]
    state = "degraded" if notes else "online"
    reason = "; ".join(notes) if notes else f"{ESPEAK}: a voice for each of {len(choices)} languages"
    return DeviceHealth(name="speech", kind="speech", state=state, reason=reason[:200])


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


Player = Callable[[Path, Utterance], None]  # plays (and may delete) the WAV; called on the worker thread


class SpeechEngine:
    def __init__(self, play: Player | None, *, record_dir: Path | None = None):
        self._play = play
        self.record_dir = record_dir
        self.rate_index = DEFAULT_RATE
        self.volume_index = DEFAULT_VOLUME
        self._workdir = Path(tempfile.mkdtemp(prefix="kiosk-speech-"))  # mode 0700: what was said stays private
        self._lock = threading.Condition()
        self._pending: tuple[int, Utterance, str] | None = None
        self._serial = 0
        self._busy = False
        self._stopping = False
        self._recorded = 0
        self._worker = threading.Thread(target=self._work, name="kiosk-speech", daemon=True)
        self._worker.start()

    @property
    def rate_wpm(self) -> int:
        return RATES_WPM[self.rate_index]

    @property
    def volume(self) -> int:
        return VOLUMES[self.volume_index]

    def adjust_rate(self, step: int) -> bool:
        """One step faster (+1) or slower (-1); False at the end of the range."""
        index = min(max(self.rate_index + step, 0), len(RATES_WPM) - 1)
        changed, self.rate_index = index != self.rate_index, index
        return changed

    def adjust_volume(self, step: int) -> bool:
        index = min(max(self.volume_index + step, 0), len(VOLUMES) - 1)
        changed, self.volume_index = index != self.volume_index, index
        return changed

    def say(self, utterance: Utterance, voice: str) -> None:
        """Say this instead of whatever is pending (asynchronous)."""
        if not voice or not plain(utterance).strip():
            return
        with self._lock:
            self._serial += 1
            self._pending = (self._serial, list(utterance), voice)
            self._lock.notify()

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._pending is None and not self._busy

    def is_current(self, serial: int) -> bool:
        return serial == self._serial

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._worker.join(5)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def synthesize(self, utterance: Utterance, voice: str, path: Path) -> Path:
        subprocess.run(
            [ESPEAK, "-m", "-v", voice, "-s", str(self.rate_wpm), "-a", str(self.volume), "-w", str(path), ssml(utterance)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return path

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                serial, utterance, voice = self._pending
                self._pending, self._busy = None, True
            try:
                path = self.synthesize(utterance, voice, self._workdir / f"{serial}.wav")
                self._record(path, utterance, voice)
                if self._play is not None and self.is_current(serial):
                    self._play(path, utterance)
                else:
                    path.unlink(missing_ok=True)
            except (OSError, subprocess.SubprocessError):
                pass  # a failed sentence must not stop the next one; nothing of it is logged (it may name the patient)
            finally:
                with self._lock:
                    self._busy = False

    def _record(self, path: Path, utterance: Utterance, voice: str) -> None:
        if self.record_dir is None:
            return
        self.record_dir.mkdir(parents=True, exist_ok=True)
        self._recorded += 1
        kept = self.record_dir / f"{self._recorded:04d}.wav"
        shutil.copyfile(path, kept)
        line = {"n": self._recorded, "text": plain(utterance), "spelled": [s.text for s in utterance if s.spell],
                "voice": voice, "rate_wpm": self.rate_wpm, "volume": self.volume, "wav": kept.name}  # fmt: skip
        with (self.record_dir / "transcript.jsonl").open("a", encoding="utf-8") as transcript:
            transcript.write(json.dumps(line, ensure_ascii=False) + "\n")


def record_dir_from_env() -> Path | None:
    """Tests only: where every utterance is kept (what the patient heard: never set in production)."""
    folder = os.environ.get("KIOSK_SPEECH_RECORD_DIR", "")
    return Path(folder) if folder else None
