"""`kiosk doctor`: open every configured device, let it settle, and report its status and reason."""

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


def all_usable(report: list[DeviceHealth]) -> bool:
    return all(health.state in ("online", "degraded") for health in report)


def run(config: KioskSiteConfig, as_json: bool) -> int:
    report = probe(config)
    if as_json:
        print(json.dumps({"ok": all_usable(report), "devices": [health.model_dump() for health in report]}, indent=2))
    elif not report:
        print("no devices configured ([[kiosk.devices]] in the site file)")
    else:
        width = max(len(health.name) for health in report)
        for health in report:
            print(f"{health.name:<{width}}  {health.kind:<16} {health.state:<9} {health.reason}")
    return 0 if all_usable(report) else 1
