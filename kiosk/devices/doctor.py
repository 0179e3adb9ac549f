"""`kiosk doctor`: open every configured device, let it settle, and report its status and reason; then
the audio output and the voices read-aloud needs (reported apart: they do not decide the exit code)."""

from __future__ import annotations

import json
import time

from lobby_core.site_config import KioskSiteConfig
from lobby_core.contract import DeviceHealth

from .base import DeviceState
from .registry import close_devices, open_devices

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
        return report
    finally:
        close_devices(devices)


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


def all_usable(report: list[DeviceHealth]) -> bool:
    return all(health.state in ("online", "degraded") for health in report)


def run(config: KioskSiteConfig, as_json: bool) -> int:
    report = probe(config)
    speech = probe_speech(config)
    if as_json:
        print(json.dumps({"ok": all_usable(report), "devices": [health.model_dump() for health in report],
                          "speech": [health.model_dump() for health in speech]}, indent=2))  # fmt: skip
        return 0 if all_usable(report) else 1
    if not report:
        print("no devices configured ([[kiosk.devices]] in the site file)")
    width = max(len(health.name) for health in report + speech)
    for health in report + speech:
        print(f"{health.name:<{width}}  {health.kind:<16} {health.state:<9} {health.reason}")
    return 0 if all_usable(report) else 1
