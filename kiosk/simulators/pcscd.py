"""Start (or reuse) the PC/SC daemon with vsmartcard's virtual reader, for tests and `kiosk run --simulate`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from kiosk.devices.connection_loop import wait_until

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
VIRTUAL_READER = "Virtual PCD 00 00"
FIRST_VPCD_PORT = 35963  # vpcd slot n: reader "Virtual PCD 00 0n", virtual card on port 35963 + n


def virtual_reader(slot: int) -> str:
    return f"Virtual PCD 00 {slot:02d}"


def vpcd_port(slot: int) -> int:
    return FIRST_VPCD_PORT + slot
RESTART_AFTER_S = 4.0


def daemon_answers() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


def virtual_reader_listed() -> bool:
    from smartcard.System import readers

    try:
        return any(VIRTUAL_READER in str(reader) for reader in readers())
    except Exception:  # noqa: BLE001 - no daemon, no service: not listed
        return False


class Pcscd:
    """`with Pcscd() as daemon:` runs `pcscd -f` unless one already answers; stops only what it started."""

    def __init__(self, timeout_s: float = 15.0):
        self.timeout_s = timeout_s
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("pcscd") is not None or Path("/usr/sbin/pcscd").exists()

    def start(self) -> "Pcscd":
        deadline = time.monotonic() + self.timeout_s
        if daemon_answers():
            if wait_until(virtual_reader_listed, self.timeout_s, interval=0.2):
                return self  # someone else's daemon, with the virtual reader: reuse it
            raise RuntimeError(f"a running pcscd does not list {VIRTUAL_READER!r}")
        # vpcd cannot bind its port while an old connection to it lingers in TIME_WAIT; pcscd then runs
        # without the reader. Restart it until the port is free or the time is up.
        while time.monotonic() < deadline:
            self._launch()
            if wait_until(virtual_reader_listed, min(RESTART_AFTER_S, max(0.0, deadline - time.monotonic())), 0.2):
                return self
            self.stop()
        raise RuntimeError(f"pcscd did not list {VIRTUAL_READER!r} within {self.timeout_s:.0f} s")

    def _launch(self) -> None:
        if PCSCD_SOCKET.exists():
            PCSCD_SOCKET.unlink()  # stale socket from a daemon that died
        executable = shutil.which("pcscd") or "/usr/sbin/pcscd"
        self.process = subprocess.Popen(
            [executable, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> "Pcscd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

