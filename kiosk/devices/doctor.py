"""`kiosk doctor`: every device's status and reason — from the running kiosk if there is one, else probed
here; then the audio output and the voices read-aloud needs (reported apart: they do not decide the exit code).

A running kiosk holds its devices: a second reader on a serial scanner would split a patient's scan
between two processes. So doctor first asks the kiosk's control socket (kiosk/control.py) for the states
its drivers see, and opens the configured devices itself only when no kiosk is running there.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Literal

from lobby_core.site_config import KioskSiteConfig
from lobby_core.contract import DeviceHealth

from kiosk.control import ControlError, KioskNotRunning, ask, control_socket_path

from .base import DeviceState
from .registry import ON_DEMAND_KINDS, close_devices, open_devices

SETTLE_TIMEOUT_S = 8.0


def _settled(device) -> bool:
    status = device.status
    return not (status.state == DeviceState.UNKNOWN and status.reason in ("connecting", "not opened"))


def probe(config: KioskSiteConfig, timeout_s: float = SETTLE_TIMEOUT_S) -> list[DeviceHealth]:
    devices = open_devices(config, lambda event: None)
    try:
        deadline = time.monotonic() + timeout_s
        while not all(_settled(device) for device in devices) and time.monotonic() < deadline:
            time.sleep(0.05)
        report = []
        for device in devices:
            health = device.health()
            if not _settled(device):
                health = health.model_copy(update={"reason": "no answer within the probe time"})
            report.append(health)
        return report + probe_card_scanners(config)
    finally:
        close_devices(devices)


def probe_card_scanners(config: KioskSiteConfig) -> list[DeviceHealth]:
    """The card scanners, asked only when a patient presses "Scan my card": their folder, or the device opened."""
    from ..card_capture import scanner_health, source_for

    return [scanner_health(device.label, source_for(device), open_device=True)
            for device in config.kiosk.devices if device.kind in ON_DEMAND_KINDS]  # fmt: skip


def probe_speech(config: KioskSiteConfig) -> list[DeviceHealth]:
    from .. import audio
    from ..i18n import Catalogues
    from ..speech import Voices, speech_health

    catalogues = Catalogues.load(config.translations_dir, config.site.default_language)
    voices = Voices.discover()
    choices = []
    for language in config.site.languages:
        wanted = catalogues.locale(language).speech_voice if language in catalogues.languages else ""
        choices.append(voices.choose(language, wanted))
    return [audio.probe().health(), speech_health(choices)]


@dataclass(frozen=True)
class States:
    devices: list[DeviceHealth]
    speech: list[DeviceHealth]
    source: Literal["kiosk", "probe"]


def from_running_kiosk(config: KioskSiteConfig) -> States | None:
    """What the running kiosk sees; None when no kiosk is running. ControlError: one runs but won't say."""
    try:
        reply = ask(control_socket_path(config.kiosk), "devices")
    except KioskNotRunning:
        return None
    try:
        devices = [DeviceHealth.model_validate(device) for device in reply["devices"]]
        speech = [DeviceHealth.model_validate(health) for health in reply.get("speech", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise ControlError(f"the running kiosk's device report is unreadable: {exc}") from exc
    return States(devices, speech, "kiosk")


def gather(config: KioskSiteConfig) -> States:
    """The running kiosk's states, or, with none running, the devices and the sound output probed here."""
    live = from_running_kiosk(config)
    return live if live is not None else States(probe(config), probe_speech(config), "probe")


def all_usable(report: list[DeviceHealth]) -> bool:
    return all(health.state in ("online", "degraded") for health in report)


def run(config: KioskSiteConfig, as_json: bool) -> int:
    try:
        states = gather(config)
    except ControlError as exc:  # a kiosk holds the devices: probing them now could eat a patient's scan
        print(f"kiosk doctor: {exc}", file=sys.stderr)
        return 2
    report, speech = states.devices, states.speech
    if as_json:
        print(json.dumps({"ok": all_usable(report), "source": states.source, "devices": [health.model_dump() for health in report],
                          "speech": [health.model_dump() for health in speech]}, indent=2))  # fmt: skip
        return 0 if all_usable(report) else 1
    print("from the running kiosk:" if states.source == "kiosk" else "probed here (no kiosk is running):")
    if not report:
        print("no devices configured ([[kiosk.devices]] in the site file)")
    width = max((len(health.name) for health in report + speech), default=0)
    for health in report + speech:
        print(f"{health.name:<{width}}  {health.kind:<16} {health.state:<9} {health.reason}")
    return 0 if all_usable(report) else 1
