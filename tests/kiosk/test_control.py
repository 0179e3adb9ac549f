"""The kiosk's control socket over real Unix sockets, and `kiosk doctor` choosing between asking and probing."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.control import ControlError, ControlServer, ControlSocketBusy, KioskNotRunning, ask

SCANNER_WITHOUT_PORT = '[[kiosk.devices]]\nkind = "id_scanner"\nname = "scanner"\n'  # probing reports its mistake


@pytest.fixture
def sock_path(tmp_path) -> Path:
    return tmp_path / "spool" / "control.sock"


def leave_stale_socket(path: Path) -> None:
    """What a kiosk killed with SIGKILL leaves: the socket file, with nobody listening."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()


def doctor(site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "doctor", "--config", str(site), "--json"],
                          capture_output=True, text=True, timeout=60)


def test_the_server_answers_from_its_handlers_on_a_private_socket(sock_path):
    asked = []
    handlers = {"devices": lambda: asked.append(1) or {"devices": [{"name": "scanner"}]}}
    server = ControlServer(sock_path, handlers).start()
    try:
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        assert ask(sock_path, "devices") == {"devices": [{"name": "scanner"}]}
        assert ask(sock_path, "devices") == {"devices": [{"name": "scanner"}]}
        assert len(asked) == 2
        with pytest.raises(ControlError, match="unknown request; requests: devices"):
            ask(sock_path, "reboot")
    finally:
        server.stop()
    assert not sock_path.exists()
    with pytest.raises(KioskNotRunning):
        ask(sock_path, "devices")


def test_a_failing_handler_is_refused_and_the_server_keeps_answering(sock_path):
    calls = []

    def flaky() -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"n": len(calls)}

    server = ControlServer(sock_path, {"devices": flaky}).start()
    try:
        with pytest.raises(ControlError, match="devices failed inside the kiosk"):
            ask(sock_path, "devices")
        assert ask(sock_path, "devices") == {"n": 2}
    finally:
        server.stop()


def test_a_stale_socket_means_no_kiosk_and_a_new_server_replaces_it(sock_path):
    leave_stale_socket(sock_path)
    assert sock_path.exists()
    with pytest.raises(KioskNotRunning):
        ask(sock_path, "devices")
    server = ControlServer(sock_path, {"devices": lambda: {"devices": []}}).start()
    try:
        assert ask(sock_path, "devices") == {"devices": []}
    finally:
        server.stop()


def test_a_second_kiosk_on_the_same_socket_is_refused_and_the_first_keeps_it(sock_path):
    first = ControlServer(sock_path, {"devices": lambda: {"who": "first"}}).start()
    try:
        with pytest.raises(ControlSocketBusy):
            ControlServer(sock_path, {"devices": lambda: {"who": "second"}}).start()
        assert ask(sock_path, "devices") == {"who": "first"}
    finally:
        first.stop()


def test_a_kiosk_that_hangs_or_garbles_is_still_a_running_kiosk(sock_path):
    sock_path.parent.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)  # accepted by the kernel, never answered
    try:
        with pytest.raises(ControlError) as hung:
            ask(sock_path, "devices", timeout_s=0.5)
        assert not isinstance(hung.value, KioskNotRunning)
    finally:
        listener.close()
        sock_path.unlink()

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)

    def garble() -> None:
        client, _ = listener.accept()
        with client:
            client.makefile("rb").readline()
            client.sendall(b"not json\n")

    answering = threading.Thread(target=garble)
    answering.start()
    try:
        with pytest.raises(ControlError, match="no readable answer"):
            ask(sock_path, "devices")
    finally:
        answering.join(5)
        listener.close()


def site_file(tmp_path: Path, extra_kiosk: str = "") -> Path:
    site = tmp_path / "site.toml"
    site.write_text(f'[kiosk]\nspool_dir = "{tmp_path / "spool"}"\n{extra_kiosk}\n{SCANNER_WITHOUT_PORT}', encoding="utf-8")
    return site


def test_doctor_probes_by_itself_past_a_stale_socket(tmp_path, sock_path):
    leave_stale_socket(sock_path)
    result = doctor(site_file(tmp_path))
    report = json.loads(result.stdout)
    assert (result.returncode, report["source"]) == (1, "probe")
    assert report["devices"] == [{"name": "scanner", "kind": "id_scanner", "state": "offline",
                                  "reason": "no serial port configured (port = ...)"}]


def test_doctor_asks_the_kiosk_on_the_configured_socket(tmp_path):
    custom = tmp_path / "run" / "kiosk.sock"
    live = [{"name": "scanner", "kind": "id_scanner", "state": "degraded", "reason": "slow"}]
    speech = [{"name": "audio", "kind": "audio_output", "state": "online", "reason": "sound output via pulse"}]
    server = ControlServer(custom, {"devices": lambda: {"devices": live, "speech": speech}}).start()
    try:
        result = doctor(site_file(tmp_path, f'control_socket = "{custom}"'))
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ok": True, "source": "kiosk", "devices": live, "speech": speech}


def test_doctor_does_not_probe_when_the_running_kiosk_will_not_answer(tmp_path, sock_path):
    sock_path.parent.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)

    def hang_up() -> None:
        client, _ = listener.accept()
        with client:
            client.makefile("rb").readline()  # reads the request, closes without a word

    answering = threading.Thread(target=hang_up)
    answering.start()
    try:
        result = doctor(site_file(tmp_path))
    finally:
        answering.join(5)
        listener.close()
    assert (result.returncode, result.stdout) == (2, "")
    assert "sent no readable answer" in result.stderr
