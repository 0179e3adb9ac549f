"""`kiosk ARGS...` (e.g. `run --config site.toml`) in this process, appending every scan the app's drivers
deliver to SCANS (one JSON string per line), so a test can count what reached the app.

    python tests/devices/counting_kiosk.py SCANS kiosk-arguments...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kiosk import cli  # noqa: E402
from kiosk.devices import registry  # noqa: E402
from kiosk.devices.base import DeviceEvent, Scanned  # noqa: E402

SCANS = Path(sys.argv[1]).open("a", encoding="utf-8")
open_devices = registry.open_devices


def counting_open_devices(config, on_event, *args, **kwargs):
    def counted(event: DeviceEvent) -> None:
        if isinstance(event, Scanned):
            SCANS.write(json.dumps(event.text) + "\n")
            SCANS.flush()
        on_event(event)

    return open_devices(config, counted, *args, **kwargs)


registry.open_devices = counting_open_devices  # the app imports it from the module when it starts
sys.exit(cli.main(sys.argv[2:]))
