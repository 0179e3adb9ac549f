"""Remote support against the real kiosk app: `kiosk run --windowed` under Xvfb, a real agent, the receipt
printer driver on the ESC/POS simulator. The screenshot is the attract screen; a restart re-executes the
app in place (same pid) and the new process answers the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.simulators.receipt_printer import SimulatedReceiptPrinter
from tests.agent.launcher import REPO, RunningAgent, site_toml
from tests.support.conftest import audit_rows

pytestmark = pytest.mark.window
START_TIMEOUT_S = 60


def kiosk_process(tmp_path: Path, agent: RunningAgent, printer_port: int) -> tuple[subprocess.Popen, Path]:
    settings = {"id": "kiosk-1", "agent_url": agent.base_url, "token": agent.token,
                "spool_dir": str(tmp_path / "spool"), "ticket_prefix": "K1"}  # fmt: skip
    printer = f'\n[[kiosk.devices]]\nkind = "receipt_printer"\nname = "receipt"\ntransport = "tcp"\nhost = "127.0.0.1"\ntcp_port = {printer_port}\n'
    config = tmp_path / "kiosk.toml"
    config.write_text(site_toml({"site": {"name": "Test Clinic"}, "kiosk": settings}) + printer, encoding="utf-8")
    log_path = tmp_path / "kiosk.log"
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(tmp_path / "kivy-home")}
    command = ["xvfb-run", "-a", "-s", "-screen 0 1080x1920x24", sys.executable, "-m", "kiosk.cli", "run",
               "--windowed", "--size", "540x960", "--config", str(config)]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
    return process, log_path


def kiosk_pid(process: subprocess.Popen) -> int:
    """The kiosk's own pid under xvfb-run (the python child of the wrapper's shell)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-s", str(process.pid), "-f", "kiosk.cli run"], capture_output=True, text=True)
        if pids := [int(p) for p in found.stdout.split()]:
            return min(pids)
        time.sleep(0.2)
    raise AssertionError("the kiosk process did not start")


@pytest.fixture
def agent(tmp_path_factory):
    from tests.agent.launcher import start_agent

    running = start_agent(tmp_path_factory.mktemp("agent"))
    try:
        yield running
    finally:
        running.stop()


def test_screenshot_print_and_restart_on_the_real_kiosk(agent: RunningAgent, tmp_path: Path) -> None:
    printer = SimulatedReceiptPrinter()
    printer.start()
    process, log_path = kiosk_process(tmp_path, agent, printer.port)
    try:
        pid = kiosk_pid(process)
        shot = tmp_path / "attract.png"
        done = agent.cli("kiosk", "screenshot", "kiosk-1", "--timeout", "90", "--output", str(shot), check=False)
        assert done.returncode == 0, done.stdout + done.stderr + log_path.read_text(errors="replace")[-3000:]
        png = shot.read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert (width, height) == (540, 960)

        printed = agent.cli("kiosk", "print-test-ticket", "kiosk-1", "--timeout", "60", check=False)
        assert printed.returncode == 0, printed.stdout + printed.stderr
        assert any("TEST-0000" in receipt.text for receipt in printer.printed)

        restarted = agent.cli("kiosk", "restart", "kiosk-1", "--timeout", "90", check=False)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr + log_path.read_text(errors="replace")[-3000:]
        assert "restart on kiosk-1: ok (restarted)" in restarted.stdout
        assert kiosk_pid(process) == pid and process.poll() is None  # re-executed in place, still running
        assert log_path.read_text(errors="replace").count("kiosk.launch INFO restarting for remote support") == 1
        again = agent.cli("kiosk", "device-check", "kiosk-1", "--timeout", "60", check=False)
        assert again.returncode == 0 and "receipt (receipt_printer): online" in again.stdout, again.stdout + again.stderr
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        printer.stop()
    actions = [(row["action"], row["subject"]) for row in audit_rows(agent) if row["action"] != "support.request"]
    assert actions == [("support.screenshot", "kiosk-1"), ("support.print_test_ticket", "kiosk-1"),
                       ("support.restart", "kiosk-1"), ("support.device_check", "kiosk-1")]  # fmt: skip
