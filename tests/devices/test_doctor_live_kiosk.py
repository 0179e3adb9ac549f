"""`kiosk doctor` beside a real running kiosk (`kiosk run` under Xvfb): it asks the app over the control
socket and never opens the devices the app holds; with the kiosk gone it probes by itself again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.control import ControlError, ask
from kiosk.simulators.serial_emitters import SimulatedScanner

pytestmark = pytest.mark.window
COUNTING_KIOSK = Path(__file__).with_name("counting_kiosk.py")
START_TIMEOUT_S = 90
SIMULATED_DEVICES = {"scanner", "card-reader", "receipt-printer", "label-printer", "signature-pad", "card-scanner"}


def kiosk_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, timeout=timeout)


def site_file(workdir: Path, devices: str = "") -> Path:
    site = workdir / "site.toml"
    site.write_text(
        '[kiosk]\nagent_url = "http://127.0.0.1:9"\n'  # nothing listens there: the kiosk runs offline
        f'spool_dir = "{workdir / "spool"}"\n\n{devices}',
        encoding="utf-8",
    )
    return site


class RunningKiosk:
    """`kiosk run ARGS` under its own Xvfb, every scan its drivers deliver recorded in `scans`."""

    def __init__(self, workdir: Path, site: Path, *run_args: str):
        self.site = site
        self.socket = workdir / "spool" / "control.sock"
        self.scans_file = workdir / "scans.jsonl"
        self.log_path = workdir / "kiosk.log"
        self.app_pid: int | None = None
        env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(workdir / "kivy-home")}
        command = ["xvfb-run", "-a", "-s", "-screen 0 540x960x24", sys.executable, str(COUNTING_KIOSK),
                   str(self.scans_file), "run", "--config", str(site), "--windowed", "--size", "540x960", *run_args]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_until_answering(self) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.process.poll() is None, f"the kiosk exited {self.process.returncode}\n{self.log_tail()}"
            try:
                reply = ask(self.socket, "devices")
                self.app_pid = reply["pid"]
                return reply
            except ControlError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the kiosk's control socket never answered\n{self.log_tail()}")
                time.sleep(0.2)

    def device_states(self) -> dict[str, tuple[str, str]]:
        return {d["name"]: (d["state"], d["reason"]) for d in ask(self.socket, "devices")["devices"]}

    def wait_for_state(self, name: str, state: tuple[str, str], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.device_states().get(name) != state:
            if time.monotonic() > deadline:
                pytest.fail(f"{name} never became {state}: {self.device_states()}\n{self.log_tail()}")
            time.sleep(0.1)

    def scans(self) -> list[str]:
        if not self.scans_file.exists():
            return []
        return [json.loads(line) for line in self.scans_file.read_text(encoding="utf-8").splitlines()]

    def stop(self) -> None:
        """SIGTERM to the app (not its Xvfb), as systemd stops it; it closes its devices and its control socket."""
        if self.process.poll() is None:
            if self.app_pid is not None:
                os.kill(self.app_pid, signal.SIGTERM)
            try:
                self.process.wait(30)  # xvfb-run ends with the app
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_kiosk(tmp_path):
    started: list[RunningKiosk] = []

    def start(site: Path, *run_args: str) -> RunningKiosk:
        running = RunningKiosk(tmp_path, site, *run_args)
        started.append(running)
        running.wait_until_answering()
        return running

    yield start
    for running in started:
        running.stop()


def doctor_json(site: Path) -> tuple[int, dict]:
    result = kiosk_cli("doctor", "--config", str(site), "--json")
    assert result.stdout.startswith("{"), result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def test_doctor_on_the_simulated_kiosk_reports_the_apps_devices(tmp_path, start_kiosk):
    site = site_file(tmp_path)  # no [[kiosk.devices]]: the simulated ones live only in the running app
    kiosk = start_kiosk(site, "--simulate")
    kiosk.wait_for_state("receipt-printer", ("online", ""))
    kiosk.wait_for_state("scanner", ("online", ""))

    code, report = doctor_json(site)
    assert report["source"] == "kiosk"
    assert {device["name"] for device in report["devices"]} == SIMULATED_DEVICES
    assert [health["name"] for health in report["speech"]] == ["audio", "speech"]  # what the app found at start
    states = {d["name"]: (d["state"], d["reason"]) for d in report["devices"]}
    assert states["scanner"] == states["receipt-printer"] == states["signature-pad"] == ("online", "")
    assert report["ok"] == (code == 0) == all(d["state"] in ("online", "degraded") for d in report["devices"])

    # Live state: a fault the app's printer driver sees shows up in doctor's report.
    assert kiosk_cli("sim", "--config", str(site), "printer", "paper-out").returncode == 0
    kiosk.wait_for_state("receipt-printer", ("offline", "paper out"))
    code, report = doctor_json(site)
    assert code == 1 and report["source"] == "kiosk"
    assert {d["name"]: d["reason"] for d in report["devices"]}["receipt-printer"] == "paper out"

    plain = kiosk_cli("doctor", "--config", str(site))
    lines = plain.stdout.splitlines()
    assert lines[0] == "from the running kiosk:"
    assert [line.split()[0] for line in lines[1:]][-2:] == ["audio", "speech"]
    assert {line.split()[0] for line in lines[1:-2]} == SIMULATED_DEVICES

    kiosk.stop()
    assert not kiosk.socket.exists()  # a clean stop takes the socket with it
    result = kiosk_cli("doctor", "--config", str(site))
    lines = result.stdout.splitlines()
    assert lines[:2] == ["probed here (no kiosk is running):", "no devices configured ([[kiosk.devices]] in the site file)"]
    assert [line.split()[0] for line in lines[2:]] == ["audio", "speech"]


def test_doctor_during_scans_does_not_touch_the_scanner_the_kiosk_holds(tmp_path, start_kiosk):
    scanner = SimulatedScanner(tmp_path / "scanner.tty")
    scanner.start()
    try:
        site = site_file(tmp_path, f'[[kiosk.devices]]\nkind = "id_scanner"\nname = "scanner"\n'
                                   f'port = "{scanner.link}"\nbaudrate = 115200\n')
        kiosk = start_kiosk(site)
        kiosk.wait_for_state("scanner", ("online", ""))

        sent: list[str] = []
        doctors_done = threading.Event()

        def keep_scanning() -> None:  # frames back to back for as long as the doctors run
            while not doctors_done.is_set() or len(sent) < 50:
                frame = f"FRAME-{len(sent):05d}-" + "0123456789" * 8
                scanner.scan(frame)
                sent.append(frame)
                time.sleep(0.005)

        sender = threading.Thread(target=keep_scanning)
        sender.start()
        try:
            reports = [doctor_json(site) for _ in range(3)]
        finally:
            doctors_done.set()
            sender.join(30)

        for code, report in reports:
            assert (code, report["source"]) == (0, "kiosk")
            assert report["devices"] == [{"name": "scanner", "kind": "id_scanner", "state": "online", "reason": ""}]
        deadline = time.monotonic() + 15
        while len(kiosk.scans()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kiosk.scans() == sent  # every frame reached the app, whole and in order
    finally:
        scanner.stop()
