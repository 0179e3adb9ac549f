"""Serial 2D / ID scanner (USB-CDC): every decoded barcode arrives as one `Scanned` event."""

from __future__ import annotations

from .base import Scanned
from .framing import FrameSplitter
from .serial_device import SerialDevice


class IdScanner(SerialDevice):
    kind = "id_scanner"

    def __init__(self, config, on_event):
        super().__init__(config, on_event)
        self._frames = FrameSplitter(suffix=config.suffix)

    def _on_connected(self) -> None:
        self._frames.reset()

    def _on_bytes(self, chunk: bytes) -> None:
        for text in self._frames.feed(chunk):
            self._emit(Scanned(self.name, text))
