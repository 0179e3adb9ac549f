"""A reconnecting serial-port device (USB-CDC scanners, signature pads) on top of pyserial."""

from __future__ import annotations

from abc import abstractmethod

import serial

from .base import DeviceState
from .connection_loop import MisconfiguredDevice, ReconnectingDevice

READ_TIMEOUT_S = 0.02


class SerialDevice(ReconnectingDevice):
    bytesize = serial.EIGHTBITS
    stopbits = serial.STOPBITS_ONE

    def __init__(self, config, on_event):
        super().__init__(config, on_event)
        self._port: serial.Serial | None = None

    def _connect(self) -> None:
        if not self.config.port:
            raise MisconfiguredDevice("no serial port configured (port = ...)")
        self._port = serial.Serial(
            self.config.port,
            baudrate=self.config.baudrate,
            parity=self.config.parity,
            bytesize=self.bytesize,
            stopbits=self.stopbits,
            timeout=READ_TIMEOUT_S,
        )
        self._port.reset_input_buffer()
        self._on_connected()
        self._set_status(DeviceState.ONLINE)

    def _serve(self) -> None:
        port = self._port
        assert port is not None
        while not self._stopping.is_set():
            chunk = port.read(max(1, port.in_waiting or 1))
            self._on_bytes(chunk)

    def _disconnect(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def _absent_reason(self, exc: Exception) -> str:
        return "not connected"

    def _lost_reason(self, exc: Exception) -> str:
        return "unplugged"

    def _on_connected(self) -> None:
        """Reset any half-received data from a previous connection."""

    @abstractmethod
    def _on_bytes(self, chunk: bytes) -> None:
        """Handle what one read returned; an empty chunk means the read timed out (silence)."""
