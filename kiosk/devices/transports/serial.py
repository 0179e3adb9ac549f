"""A serial line (RS-232, USB-CDC) through pyserial, 8 data bits, 1 stop bit."""

from __future__ import annotations

import serial as pyserial

from lobby_core.site_config import DeviceConfig

from ..base import MisconfiguredDevice
from .base import WRITE_TIMEOUT_S, Transport


class SerialTransport(Transport):
    def __init__(self, port: str, baudrate: int = 9600, parity: str = "N", write_timeout: float = WRITE_TIMEOUT_S):
        super().__init__(write_timeout)
        self.port, self.baudrate, self.parity = port, baudrate, parity
        self._serial: pyserial.Serial | None = None

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "SerialTransport":
        if not config.port:
            raise MisconfiguredDevice("no serial port configured (port = ...)")
        return cls(config.port, config.baudrate, config.parity)

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        self.close()
        self._serial = pyserial.Serial(
            self.port,
            baudrate=self.baudrate,
            parity=self.parity,
            bytesize=pyserial.EIGHTBITS,
            stopbits=pyserial.STOPBITS_ONE,
            timeout=0,
            write_timeout=self.write_timeout,
        )

    def write(self, data: bytes) -> None:
        self._port().write(data)

    def read(self, n: int, timeout: float) -> bytes:
        port = self._port()
        if port.timeout != timeout:  # each change is a tcsetattr: only when it differs
            port.timeout = timeout
        first = port.read(1)  # pyserial raises SerialException (an OSError) when the line is gone
        if not first or n == 1:
            return first
        waiting = port.in_waiting
        return first + port.read(min(n - 1, waiting)) if waiting else first

    def discard_input(self) -> None:
        self._port().reset_input_buffer()

    def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            port.close()

    def _port(self) -> pyserial.Serial:
        self._require_open()
        assert self._serial is not None
        return self._serial

    def __repr__(self) -> str:
        return f"SerialTransport({self.port})"
