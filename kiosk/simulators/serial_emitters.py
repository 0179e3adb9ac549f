"""Simulated serial devices that only talk: a barcode scanner and a signature pad, on pseudo-terminals."""

from __future__ import annotations

import math
import time
from pathlib import Path

from kiosk.devices.pen_packets import PenSample, encode
from kiosk.devices.signature_pad import DEFAULT_MODEL, PAD_MODELS

from .transports import PtyPeer


class SerialEmitter:
    """A device at the far end of a pseudo-terminal that only writes (unplug = stop, replug = start)."""

    def __init__(self, link: Path):
        self.transport = PtyPeer(link)

    @property
    def link(self) -> Path:
        return self.transport.link

    def start(self) -> None:
        self.transport.start()

    def stop(self) -> None:
        self.transport.stop()

    def send_raw(self, data: bytes) -> None:
        self.transport.write(data)


class SimulatedScanner(SerialEmitter):
    """Sends decoded barcodes the way a USB-CDC scanner does: the text, then the configured suffix."""

    def __init__(self, link: Path, suffix: str = "\r\n"):
        super().__init__(link)
        self.suffix = suffix

    def scan(self, text: str) -> None:
        self.transport.write(text.encode("utf-8") + self.suffix.encode("latin-1"))


def sample_signature_samples(model: str = DEFAULT_MODEL) -> list[PenSample]:
    """A plausible hand-written squiggle across most of the pad: three strokes with pen-ups between."""
    geometry = PAD_MODELS[model]
    (x0, x1), (y0, y1) = geometry.raw_x, geometry.raw_y
    samples: list[PenSample] = []
    for stroke, (start, end) in enumerate(((0.05, 0.45), (0.5, 0.8), (0.83, 0.95))):
        steps = 60
        for i in range(steps + 1):
            u = start + (end - start) * i / steps
            v = 0.5 + 0.35 * math.sin(u * 40 + stroke)
            samples.append(PenSample(round(x0 + u * (x1 - x0)), round(y0 + v * (y1 - y0)), True))
        samples.append(PenSample(samples[-1].x, samples[-1].y, False))
    return samples


class SimulatedSignaturePad(SerialEmitter):
    """Sends Topaz-style 5-byte pen packets."""

    def __init__(self, link: Path, model: str = DEFAULT_MODEL):
        super().__init__(link)
        self.model = model

    def send(self, samples: list[PenSample], interval_s: float = 0.0) -> None:
        for sample in samples:
            self.transport.write(encode(sample))
            if interval_s:
                time.sleep(interval_s)

    def sign(self) -> None:
        """Draw the sample signature, then rest the pen (the pad sends pen-up packets while idle)."""
        self.send(sample_signature_samples(self.model), interval_s=0.002)
