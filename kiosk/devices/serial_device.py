"""A reconnecting device that only talks (USB-CDC scanners, signature pads): bytes in, events out."""

from __future__ import annotations

from abc import abstractmethod

from .base import DeviceState
from .connection_loop import ReconnectingDevice
from .transports import Transport, transport_for

READ_TIMEOUT_S = 0.02


class SerialDevice(ReconnectingDevice):
    accepted_transports = ("serial",)

    def __init__(self, config, on_event):
        super().__init__(config, on_event)
        self._transport: Transport | None = None

    def _connect(self) -> None:
        transport = transport_for(self.config, self.accepted_transports)
        transport.open()
        self._transport = transport
        transport.discard_input()
        self._on_connected()
        self._set_status(DeviceState.ONLINE)

    def _serve(self) -> None:
        transport = self._transport
        assert transport is not None
        while not self._stopping.is_set():
            self._on_bytes(transport.read(4096, READ_TIMEOUT_S))

    def _disconnect(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _absent_reason(self, exc: Exception) -> str:
        return "not connected"

    def _lost_reason(self, exc: Exception) -> str:
        return "unplugged"

    def _on_connected(self) -> None:
        """Reset any half-received data from a previous connection."""

    @abstractmethod
    def _on_bytes(self, chunk: bytes) -> None:
        """Handle what one read returned; an empty chunk means the read timed out (silence)."""
