"""Serial signature pad (Topaz-style pen packets): a signature is captured when the pen rests long enough."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .base import SignatureCaptured
from .pen_packets import PenPacketDecoder, PenSample
from .serial_device import SerialDevice
from .signature import SignatureBuilder

# Serial pads have no "done" button: the signature is complete when the pen has rested this long (long
# enough for the pause between given and family name), or at once when the app calls `finish()`.
COMPLETE_AFTER_IDLE_S = 2.5


@dataclass(frozen=True)
class PadGeometry:
    """Active signing area and the raw coordinate range that maps onto it."""

    width_mm: float
    height_mm: float
    raw_x: tuple[int, int]
    raw_y: tuple[int, int]

    def to_mm(self, sample: PenSample) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.raw_x, self.raw_y
        return (
            (sample.x - x0) * self.width_mm / (x1 - x0),
            (sample.y - y0) * self.height_mm / (y1 - y0),
        )


# Known pads by config `model`; the default matches the common 1x5 inch LCD pads and the simulator.
PAD_MODELS = {
    "topaz-1x5": PadGeometry(101.6, 25.4, (410, 3610), (450, 1250)),
    "topaz-4x3": PadGeometry(101.6, 76.2, (500, 2650), (350, 2050)),
}
DEFAULT_MODEL = "topaz-1x5"


class SignaturePad(SerialDevice):
    kind = "signature_pad"
    complete_after_idle_s = COMPLETE_AFTER_IDLE_S

    def __init__(self, config, on_event, clock=time.monotonic):
        super().__init__(config, on_event)
        self.geometry = PAD_MODELS.get(config.model or DEFAULT_MODEL, PAD_MODELS[DEFAULT_MODEL])
        self._clock = clock
        self._decoder = PenPacketDecoder()
        self._builder = SignatureBuilder(self.geometry.width_mm, self.geometry.height_mm, "pad")
        self._started_at = 0.0
        self._last_sample_at = 0.0
        self._ink = threading.Lock()  # the driver thread draws, the app clears or finishes

    def clear(self) -> None:
        """Forget anything drawn so far (the patient pressed "clear", or a new form starts)."""
        with self._ink:
            self._builder.clear()

    @property
    def strokes_drawn(self) -> int:
        """Strokes on the pad not yet delivered (0: nothing to clear or finish)."""
        with self._ink:
            return 0 if self._builder.empty else len(self._builder.build().strokes)

    @property
    def pen_resting(self) -> bool:
        with self._ink:
            return not self._builder.pen_down

    def finish(self) -> bool:
        """The patient pressed "done": deliver what is on the pad now. False when nothing was drawn."""
        with self._ink:
            return self._deliver()

    def _deliver(self) -> bool:
        if self._builder.empty:
            return False
        signature = self._builder.build()
        self._builder.clear()
        self._emit(SignatureCaptured(self.name, signature))
        return True

    def _on_connected(self) -> None:
        self._decoder.reset()
        self.clear()

    def _on_bytes(self, chunk: bytes) -> None:
        with self._ink:
            self._take(chunk, self._clock())

    def _take(self, chunk: bytes, now: float) -> None:
        for sample in self._decoder.feed(chunk):
            if self._builder.empty and not sample.pen_down:
                continue
            if self._builder.empty:
                self._started_at = now
            x_mm, y_mm = self.geometry.to_mm(sample)
            self._builder.add(x_mm, y_mm, round((now - self._started_at) * 1000), sample.pen_down)
            self._last_sample_at = now
        idle = now - self._last_sample_at
        if not self._builder.pen_down and idle >= self.complete_after_idle_s:
            self._deliver()
