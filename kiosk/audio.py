"""Is there a sound output, and are headphones plugged in?

`probe()` opens the default audio device through SDL, the library Kivy plays sound with, exactly as
playback will, then closes it: PulseAudio, ALSA and their errors all answer here. SDL's own
`SDL_AUDIODRIVER` chooses the back end, which is how tests pick a null sink (`dummy`) or a back end
that cannot open (`SDL_AUDIODRIVER=none`) on any machine.

`HeadphoneJack` reads the jack switch from a configured source: `file:PATH` (plugged when the file holds
1/on/yes/plugged; a udev rule or a test writes it) or `alsa:CARD:CONTROL` (`amixer -c CARD cget
name='CONTROL'`, plugged when its value is on).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lobby_core.contract import DeviceHealth

SDL_INIT_AUDIO = 0x10
AUDIO_S16LSB = 0x8010
NULL_SINKS = {"dummy", "disk"}  # SDL's demand-only back ends: they accept sound and nobody hears it


class _AudioSpec(ctypes.Structure):
    _fields_ = [
        ("freq", ctypes.c_int), ("format", ctypes.c_uint16), ("channels", ctypes.c_uint8),
        ("silence", ctypes.c_uint8), ("samples", ctypes.c_uint16), ("padding", ctypes.c_uint16),
        ("size", ctypes.c_uint32), ("callback", ctypes.c_void_p), ("userdata", ctypes.c_void_p),
    ]  # fmt: skip


@dataclass(frozen=True)
class AudioStatus:
    usable: bool
    driver: str  # SDL's back end: "pulseaudio", "alsa", "dummy", ... ; "" when none opened
    reason: str

    def health(self) -> DeviceHealth:
        if not self.usable:
            state = "offline"
        elif self.driver in NULL_SINKS:
            state = "degraded"
        else:
            state = "online"
        return DeviceHealth(name="audio", kind="audio_output", state=state, reason=self.reason[:200])


def _sdl_library() -> ctypes.CDLL | None:
    """The SDL2 Kivy's wheel bundles (the one that will play), else the system's."""
    import kivy

    bundled = sorted(glob.glob(str(Path(kivy.__file__).parent.parent / "Kivy.libs" / "libSDL2-2*.so*")))
    path = bundled[0] if bundled else ctypes.util.find_library("SDL2")
    if not path:
        return None
    sdl = ctypes.CDLL(path)
    for name in ("SDL_GetError", "SDL_GetCurrentAudioDriver"):
        getattr(sdl, name).restype = ctypes.c_char_p
    return sdl


def probe() -> AudioStatus:
    sdl = _sdl_library()
    if sdl is None:
        return AudioStatus(False, "", "no SDL2 library: sound cannot play")
    if sdl.SDL_InitSubSystem(SDL_INIT_AUDIO) != 0:
        return AudioStatus(False, "", f"no audio output: {_error(sdl)}")
    try:
        driver = (sdl.SDL_GetCurrentAudioDriver() or b"").decode()
        wanted = _AudioSpec(22050, AUDIO_S16LSB, 1, 0, 1024, 0, 0, None, None)
        obtained = _AudioSpec()
        device = sdl.SDL_OpenAudioDevice(None, 0, ctypes.byref(wanted), ctypes.byref(obtained), 0)
        if device <= 0:
            return AudioStatus(False, driver, f"no audio output: {_error(sdl)}")
        sdl.SDL_CloseAudioDevice(device)
        if driver in NULL_SINKS:
            return AudioStatus(True, driver, f"null sink ({driver}): sound plays but nobody hears it")
        return AudioStatus(True, driver, f"sound output via {driver}")
    finally:
        sdl.SDL_QuitSubSystem(SDL_INIT_AUDIO)


def _error(sdl) -> str:
    return (sdl.SDL_GetError() or b"unknown error").decode(errors="replace")


PLUGGED_WORDS = {"1", "on", "yes", "plugged", "true"}


class HeadphoneJack:
    def __init__(self, source: str):
        self.source = source.strip()

    @property
    def configured(self) -> bool:
        return bool(self.source)

    def plugged(self) -> bool:
        kind, _, where = self.source.partition(":")
        if kind == "file":
            try:
                return Path(where).read_text(encoding="utf-8").strip().lower() in PLUGGED_WORDS
            except OSError:
                return False
        if kind == "alsa":
            card, _, control = where.partition(":")
            try:
                out = subprocess.run(["amixer", "-c", card, "cget", f"name={control}"], capture_output=True,
                                     text=True, timeout=2).stdout  # fmt: skip
            except (OSError, subprocess.TimeoutExpired):
                return False
            return any(line.strip().startswith(": values=on") for line in out.splitlines())
        return False


class JackWatcher:
    """Polls the jack on its own thread and calls `on_change(plugged)` on each change (and once at start)."""

    def __init__(self, jack: HeadphoneJack, on_change: Callable[[bool], None], interval_s: float = 0.5):
        self._jack, self._on_change, self._interval_s = jack, on_change, interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="kiosk-headphones", daemon=True)

    def start(self) -> "JackWatcher":
        if self._jack.configured:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def _watch(self) -> None:
        last = None
        while not self._stopping.is_set():
            plugged = self._jack.plugged()
            if plugged != last:
                last = plugged
                self._on_change(plugged)
            self._stopping.wait(self._interval_s)
