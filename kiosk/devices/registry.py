"""Build the kiosk's drivers from its configuration, and start simulated hardware for `kiosk run --simulate`.

For the app:

    devices = open_devices(config, on_event)     # config: a site config, KioskSection or list[DeviceConfig]
    ...                                          # events arrive on driver threads: marshal them to the UI
    close_devices(devices)

    devices_config, lobby = start_simulated_lobby(data_dir)   # simulators for every kind of device
    devices = open_devices(devices_config, on_event)
    ...
    lobby.stop()                                              # after close_devices(devices)

`open_devices` returns drivers already opened (each connects and reconnects in the background; read
`device.status`). Find one with `find_device(devices, "receipt_printer")`; the receipt printer has
`print_ticket(Ticket)`, the label printer `print_label(LabelData)` / `print_wristband(LabelData)`, the
signature pad `clear()` and `finish()` (deliver now; otherwise a 2.5 s pen rest completes a signature). While the lobby runs, `kiosk sim COMMAND` (or `lobby.command(...)`) injects
scans, cards, printer faults and signatures.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Union

from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR, DeviceConfig, KioskSection, SharedSiteConfig

from .base import Device, EventSink

if TYPE_CHECKING:
    from kiosk.simulators.lobby import SimulatedLobby

DevicesConfig = Union[SharedSiteConfig, KioskSection, list[DeviceConfig]]


def _driver_class(kind: str) -> type[Device]:
    if kind == "id_scanner":
        from .scanner import IdScanner as driver
    elif kind == "card_reader":
        from .cards import CardReader as driver
    elif kind == "receipt_printer":
        from .receipt_printer import ReceiptPrinter as driver
    elif kind == "label_printer":
        from .label_printer import LabelPrinter as driver
    elif kind == "signature_pad":
        from .signature_pad import SignaturePad as driver
    else:
        raise ValueError(f"no driver for device kind {kind!r}")
    return driver


# Not a driver that sends events: the app asks it for a card when the patient presses "Scan my card"
# (kiosk/card_capture, kiosk/app.py).
ON_DEMAND_KINDS = {"card_scanner"}


def _device_configs(config: DevicesConfig) -> list[DeviceConfig]:
    if isinstance(config, SharedSiteConfig):
        configs = list(config.kiosk.devices)
    elif isinstance(config, KioskSection):
        configs = list(config.devices)
    else:
        configs = list(config)
    return [device for device in configs if device.kind not in ON_DEMAND_KINDS]


def build_device(config: DeviceConfig, on_event: EventSink, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> Device:
    driver = _driver_class(config.kind)
    if config.kind == "receipt_printer":
        return driver(config, on_event, translations_dir=translations_dir)  # type: ignore[call-arg]
    return driver(config, on_event)


def open_devices(config: DevicesConfig, on_event: EventSink, translations_dir: Path | None = None) -> list[Device]:
    """`translations_dir`: the site's catalogues for what the devices print (a site config brings its own)."""
    if translations_dir is None:
        translations_dir = config.translations_dir if isinstance(config, SharedSiteConfig) else DEFAULT_TRANSLATIONS_DIR
    devices = [build_device(device, on_event, translations_dir) for device in _device_configs(config)]
    for device in devices:
        device.open()
    return devices


def close_devices(devices: list[Device]) -> None:
    for device in devices:
        device.close()


def find_device(devices: list[Device], kind: str) -> Device | None:
    return next((device for device in devices if device.kind == kind), None)


def start_simulated_lobby(data_dir: Path) -> tuple[list[DeviceConfig], "SimulatedLobby"]:
    """Start a simulator for every kind of device; return the device configs pointing at them, and the lobby."""
    from kiosk.simulators.lobby import SimulatedLobby

    lobby = SimulatedLobby(Path(data_dir), with_card_scanner=True).start()
    return lobby.devices, lobby
