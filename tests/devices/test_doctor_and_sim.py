"""`kiosk doctor --json` (probing by itself: no kiosk app runs) and `kiosk sim` as real subprocesses against a
running SimulatedLobby. tests/devices/test_doctor_live_kiosk.py runs doctor beside a real kiosk app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.devices.base import CardInserted, DeviceState, Scanned, SignatureCaptured, StatusChanged
from kiosk.devices.registry import close_devices, find_device, open_devices
from kiosk.simulators.lobby import SimulatedLobby

from .conftest import CARD_SLOT

SAMPLE = Path(__file__).parent / "aamva_samples" / "v10_us_dl.txt"


def kiosk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def lobby(tmp_path, pcscd):
    data_dir = tmp_path / "kiosk-data"
    with SimulatedLobby(data_dir, card_slot=CARD_SLOT) as running:
        config = data_dir / "site.toml"
        config.write_text(running.site_toml(), encoding="utf-8")
        running.config_file = config
        running.data_dir = data_dir
        yield running


def doctor(lobby) -> tuple[int, dict[str, tuple[str, str]]]:
    result = kiosk("doctor", "--config", str(lobby.config_file), "--json")
    assert result.stdout.startswith("{"), result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] == (result.returncode == 0)
    assert report["source"] == "probe"  # no kiosk app runs beside these simulators: doctor opens them itself
    return result.returncode, {d["name"]: (d["state"], d["reason"]) for d in report["devices"]}


def test_doctor_reports_each_device_truthfully_as_the_simulators_change(lobby):
    code, devices = doctor(lobby)
    assert code == 0
    assert devices == {name: ("online", "") for name in
                       ("scanner", "card-reader", "receipt-printer", "label-printer", "signature-pad")}

    lobby.command("printer", ["paper-low"])
    code, devices = doctor(lobby)
    assert (code, devices["receipt-printer"]) == (0, ("degraded", "paper low"))

    lobby.command("printer", ["paper-out"])
    lobby.command("unplug", ["scanner"])
    code, devices = doctor(lobby)
    assert code == 1
    assert devices["receipt-printer"] == ("offline", "paper out")
    assert devices["scanner"] == ("offline", "not connected")
    assert devices["signature-pad"] == ("online", "")

    lobby.command("printer", ["silent"])
    lobby.command("plug", ["scanner"])
    lobby.command("unplug", ["label-printer"])
    code, devices = doctor(lobby)
    assert code == 1
    assert devices["receipt-printer"] == ("unknown", "status unknown")
    assert devices["label-printer"] == ("offline", "offline")
    assert devices["scanner"] == ("online", "")

    lobby.command("printer", ["ok"])
    lobby.command("plug", ["label-printer"])
    code, devices = doctor(lobby)
    assert code == 0 and all(state == "online" for state, _ in devices.values())


def test_doctor_plain_output_names_every_device(lobby):
    result = kiosk("doctor", "--config", str(lobby.config_file))
    assert result.returncode == 0, result.stdout + result.stderr
    header, *lines = result.stdout.splitlines()
    assert header == "probed here (no kiosk is running):"
    assert [line.split()[0] for line in lines] == [d.name for d in lobby.devices] + ["audio", "speech"]


def test_kiosk_sim_injects_events_into_the_running_drivers(lobby, events, tmp_path):
    devices = open_devices(lobby.devices, events)
    try:
        for device in devices:
            events.wait_for(lambda e, name=device.name: isinstance(e, StatusChanged) and e.device == name
                            and e.status.state == DeviceState.ONLINE)
        data = ["--data-dir", str(lobby.data_dir)]

        assert kiosk("sim", *data, "scan", f"@{SAMPLE}").returncode == 0
        scanned = events.wait_for(lambda e: isinstance(e, Scanned))
        assert scanned.text == SAMPLE.read_text(encoding="utf-8").rstrip("\r\n")

        assert kiosk("sim", *data, "insert-card", "eid").returncode == 0
        card = events.wait_for(lambda e: isinstance(e, CardInserted), timeout=15)
        assert card.identity is not None and card.identity.family_name == "Peeters-Specimen"
        assert kiosk("sim", *data, "remove-card").returncode == 0

        assert kiosk("sim", *data, "sign").returncode == 0
        signature = events.wait_for(lambda e: isinstance(e, SignatureCaptured))
        assert len(signature.signature.strokes) == 3

        assert kiosk("sim", *data, "printer", "cover-open").returncode == 0
        printer = find_device(devices, "receipt_printer")
        events.wait_for(lambda e: isinstance(e, StatusChanged) and e.status.reason == "cover open")
        assert printer.status.state == DeviceState.OFFLINE

        refused = kiosk("sim", *data, "printer", "on-fire")
        assert refused.returncode == 1 and "unknown printer condition" in refused.stderr
        assert kiosk("sim", *data, "printer", "ok").returncode == 0
    finally:
        close_devices(devices)
        lobby.command("remove-card", [])


def test_kiosk_sim_without_a_running_kiosk_says_so(tmp_path):
    result = kiosk("sim", "--data-dir", str(tmp_path), "sign")
    assert result.returncode == 2 and "no simulated kiosk is running" in result.stderr


def test_doctor_names_configuration_mistakes(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(
        '[[kiosk.devices]]\nkind = "receipt_printer"\nname = "usb-printer"\ntransport = "usb"\n\n'
        '[[kiosk.devices]]\nkind = "id_scanner"\nname = "scanner"\n',
        encoding="utf-8",
    )
    result = kiosk("doctor", "--config", str(config), "--json")
    assert result.returncode == 1
    devices = {d["name"]: (d["state"], d["reason"]) for d in json.loads(result.stdout)["devices"]}
    assert devices == {
        "usb-printer": ("offline", "a USB device needs usb_vendor and usb_product (see lsusb)"),
        "scanner": ("offline", "no serial port configured (port = ...)"),
    }
