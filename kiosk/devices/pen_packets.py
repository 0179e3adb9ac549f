"""Decode Topaz-style 5-byte serial pen packets: sync byte (bit 7 set, bit 0 pen down), then x and y."""

from __future__ import annotations

from dataclasses import dataclass

PACKET_BYTES = 5


@dataclass(frozen=True)
class PenSample:
    x: int  # raw pad units
    y: int
    pen_down: bool


def encode(sample: PenSample) -> bytes:
    """The packet a pad sends for `sample` (used by the simulator, and to test `decode` against)."""
    return bytes(
        [0x80 | int(sample.pen_down), sample.x & 0x7F, (sample.x >> 7) & 0x1F, sample.y & 0x7F, (sample.y >> 7) & 0x1F]
    )


class PenPacketDecoder:
    """Feed any bytes; get whole samples. Noise and half packets are skipped by resyncing on bit 7."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def reset(self) -> None:
        self._pending.clear()

    def feed(self, chunk: bytes) -> list[PenSample]:
        self._pending += chunk
        samples: list[PenSample] = []
        while True:
            start = next((i for i, byte in enumerate(self._pending) if byte & 0x80), None)
            if start is None:
                self._pending.clear()
                return samples
            del self._pending[:start]
            if len(self._pending) < PACKET_BYTES:
                return samples
            body = self._pending[1:PACKET_BYTES]
            interrupted = next((i for i, byte in enumerate(body) if byte & 0x80), None)
            if interrupted is not None:
                del self._pending[: 1 + interrupted]  # a new sync byte inside: the packet was cut short
                continue
            sync, b1, b2, b3, b4 = self._pending[:PACKET_BYTES]
            del self._pending[:PACKET_BYTES]
            samples.append(PenSample(((b2 & 0x1F) << 7) | (b1 & 0x7F), ((b4 & 0x1F) << 7) | (b3 & 0x7F), bool(sync & 1)))
