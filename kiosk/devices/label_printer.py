"""ZPL label / wristband printer over raw TCP (port 9100) or a serial line, with ~HS host status."""

from __future__ import annotations

import socket
import threading
import time

import serial

from .base import DeviceState, DeviceStatus, Printed
from .connection_loop import MisconfiguredDevice, ReconnectingDevice
from .zpl import HOST_STATUS_QUERY, LabelData, interpret_host_status, patient_label, wristband

STATUS_POLL_S = 2.0
ANSWER_TIMEOUT_S = 0.6
STATUS_UNKNOWN = DeviceStatus(DeviceState.UNKNOWN, "status unknown")


class LabelPrinter(ReconnectingDevice):
    kind = "label_printer"
    status_poll_s = STATUS_POLL_S

    def __init__(self, config, on_event):
        super().__init__(config, on_event)
        self._link: socket.socket | serial.Serial | None = None
        self._io = threading.Lock()

    def print_label(self, data: LabelData) -> bool:
        return self._print(patient_label(data), "label")

    def print_wristband(self, data: LabelData) -> bool:
        return self._print(wristband(data), "wristband")

    def refresh_status(self) -> DeviceStatus:
        with self._io:
            return self._poll_locked() if self._link is not None else self.status

    def _print(self, zpl: str, job: str) -> bool:
        with self._io:
            if self._link is None:
                return False
            before = self._poll_locked()
            if not before.usable and before.state != DeviceState.UNKNOWN:
                return False
            try:
                self._write_locked(zpl.encode("utf-8"))
            except (OSError, serial.SerialException):
                self._drop_locked()
                return False
        self._emit(Printed(self.name, job))
        return True

    def _connect(self) -> None:
        if self.config.transport not in ("tcp", "serial"):
            raise MisconfiguredDevice(f"label printers use transport tcp or serial, not {self.config.transport!r}")
        if self.config.transport == "tcp":
            link: socket.socket | serial.Serial = socket.create_connection(
                (self.config.host or "127.0.0.1", self.config.tcp_port), timeout=3
            )
            link.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # ~HS right after a label
        else:
            link = serial.Serial(self.config.port, baudrate=self.config.baudrate, timeout=ANSWER_TIMEOUT_S)
        with self._io:
            self._link = link
            self._poll_locked()

    def _serve(self) -> None:
        while not self._stopping.wait(self.status_poll_s):
            with self._io:
                if self._link is None:
                    raise ConnectionError("label printer connection lost")
                self._poll_locked()

    def _disconnect(self) -> None:
        with self._io:
            link, self._link = self._link, None
        if link is not None:
            link.close()

    def _absent_reason(self, exc: Exception) -> str:
        return "offline"

    _lost_reason = _absent_reason

    def _write_locked(self, data: bytes) -> None:
        if isinstance(self._link, socket.socket):
            self._link.sendall(data)
        else:
            self._link.write(data)

    def _poll_locked(self) -> DeviceStatus:
        try:
            self._write_locked(HOST_STATUS_QUERY)
            answer = self._read_answer_locked()
        except (OSError, serial.SerialException, ConnectionError):
            self._drop_locked()
            return self.status
        status = interpret_host_status(answer) if answer else STATUS_UNKNOWN
        self._set_status(status.state, status.reason)
        return status

    def _read_answer_locked(self) -> bytes:
        """Collect the three ~HS strings, or whatever arrives before the printer falls silent."""
        answer = bytearray()
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while answer.count(b"\x03") < 3 and time.monotonic() < deadline:
            if isinstance(self._link, socket.socket):
                self._link.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = self._link.recv(256)
                except socket.timeout:
                    break
                if not chunk:
                    raise ConnectionError("label printer closed the connection")
            else:
                chunk = self._link.read(256)
                if not chunk:
                    break
            answer += chunk
        return bytes(answer)

    def _drop_locked(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            try:
                link.close()
            except OSError:
                pass
        self._set_status(DeviceState.OFFLINE, "offline")
