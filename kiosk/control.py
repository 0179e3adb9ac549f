"""The running kiosk's local control socket: `kiosk doctor` asks the app instead of opening its devices.

    server = ControlServer(control_socket_path(site.kiosk), {"devices": lambda: {"devices": [...]}}).start()
    ...
    server.stop()

    reply = ask(control_socket_path(site.kiosk), "devices")   # raises KioskNotRunning, ControlError

A Unix domain socket (mode 0600, so only the kiosk's user and root may ask), by default
`<kiosk.spool_dir>/control.sock` (`kiosk.control_socket` moves it). One JSON object per line each way:
{"request": "devices"} -> {"ok": true, ...what the handler returned} or {"ok": false, "error": "..."}.
Handlers answer from the app's own state and must never touch a device.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

from lobby_core.site_config import KioskSection

log = logging.getLogger(__name__)

CONTROL_SOCKET = "control.sock"
ASK_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 4096

Handler = Callable[[], dict[str, Any]]


class ControlError(RuntimeError):
    """A kiosk is running but could not be asked (no permission, no answer, a broken reply)."""


class KioskNotRunning(ControlError):
    """No kiosk listens on the socket: the file is absent, or stale (left by a kiosk that died)."""


class ControlSocketBusy(ControlError):
    """Another running kiosk already answers on this socket."""


def control_socket_path(kiosk: KioskSection) -> Path:
    return Path(kiosk.control_socket) if kiosk.control_socket else Path(kiosk.spool_dir) / CONTROL_SOCKET


def _connect(path: Path, timeout_s: float) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout_s)
    try:
        client.connect(str(path))
    except OSError as exc:
        client.close()
        if exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR):
            raise KioskNotRunning(f"no kiosk is running on {path}") from exc
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ControlError(f"a kiosk is running but {path} is not open to this user (run as the kiosk's user)") from exc
        raise ControlError(f"cannot reach the kiosk on {path}: {exc.strerror or exc}") from exc
    return client


def ask(path: Path, request: str, timeout_s: float = ASK_TIMEOUT_S) -> dict[str, Any]:
    """Ask the running kiosk; its reply without "ok". KioskNotRunning: nobody listens on `path`."""
    with _connect(path, timeout_s) as client:
        try:
            client.sendall((json.dumps({"request": request}) + "\n").encode())
            line = client.makefile("r", encoding="utf-8").readline()
        except OSError as exc:  # socket.timeout included: a kiosk that hangs is still a running kiosk
            raise ControlError(f"the kiosk on {path} did not answer: {exc}") from exc
    try:
        reply = json.loads(line)
    except ValueError as exc:
        raise ControlError(f"the kiosk on {path} sent no readable answer") from exc
    if not isinstance(reply, dict):
        raise ControlError(f"the kiosk on {path} sent no readable answer")
    if not reply.pop("ok", False):
        raise ControlError(f"the kiosk refused {request!r}: {reply.get('error', 'no reason given')}")
    return reply


class ControlServer:
    """Serves `handlers` (request name -> reply fields) on a Unix socket, one connection at a time, on its own thread."""

    def __init__(self, path: Path, handlers: Mapping[str, Handler]):
        self.path = Path(path)
        self.handlers = dict(handlers)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "ControlServer":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_socket()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, 0o600)  # before listen(): nobody can connect while the mode is wider
            listener.listen(8)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, args=(listener,), name="kiosk-control", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() on the serving thread
        except OSError:
            pass
        listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)

    def _remove_stale_socket(self) -> None:
        if not self.path.exists() and not self.path.is_symlink():
            return
        try:
            _connect(self.path, timeout_s=1.0).close()
        except KioskNotRunning:
            log.info("removing the stale control socket %s", self.path)
            self.path.unlink(missing_ok=True)
            return
        except ControlError:
            pass
        raise ControlSocketBusy(f"another kiosk already answers on {self.path}")

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            with client:
                client.settimeout(ASK_TIMEOUT_S)
                try:
                    client.sendall((json.dumps(self._answer(client)) + "\n").encode())
                except OSError:
                    continue  # the asker went away

    def _answer(self, client: socket.socket) -> dict[str, Any]:
        try:
            request = json.loads(client.makefile("rb").readline(MAX_REQUEST_BYTES) or b"{}")
        except ValueError:
            return {"ok": False, "error": "not a JSON request"}
        name = request.get("request") if isinstance(request, dict) else None
        handler = self.handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            return {"ok": False, "error": f"unknown request; requests: {', '.join(sorted(self.handlers))}"}
        try:
            return {**handler(), "ok": True}
        except Exception:  # noqa: BLE001 - one bad answer must not end the control channel
            log.exception("control request %r failed", name)
            return {"ok": False, "error": f"{name} failed inside the kiosk"}
