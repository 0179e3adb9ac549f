"""Cut a scanner's byte stream into frames: CR, LF, CRLF, a configured suffix, or a pause ends a frame."""

from __future__ import annotations

import time

SILENCE_S = 0.3
# A scanner sends a whole barcode in one burst. AAMVA text whose last byte is a line break is almost
# always complete (compliant barcodes end with CR, scanners append CR/LF), so a short pause ends it.
AAMVA_END_PAUSE_S = 0.12
MAX_FRAME_BYTES = 64 * 1024  # an AAMVA barcode is under 3 KB; anything longer is noise
LEADING_BLANKS_MAX = 8  # spaces, tabs or line breaks seen before an AAMVA barcode's `@`


class FrameSplitter:
    """Feed bytes as they arrive; get complete frames back.

    AAMVA data itself contains LF and CR between elements, so a bare line ending cannot end a frame when
    the text so far is an AAMVA header: those frames end with the scanner's suffix or with silence.
    """

    def __init__(
        self, suffix: str = "", silence_s: float = SILENCE_S, aamva_end_pause_s: float = AAMVA_END_PAUSE_S,
        clock=time.monotonic,
    ):
        self._suffix = suffix.encode("latin-1", "replace") if suffix else b""
        self._silence_s = silence_s
        self._aamva_end_pause_s = aamva_end_pause_s
        self._clock = clock
        self._buffer = bytearray()
        self._last_byte_at = 0.0

    def reset(self) -> None:
        self._buffer.clear()

    def feed(self, chunk: bytes) -> list[str]:
        frames: list[str] = []
        if not chunk:
            if self._buffer and self._clock() - self._last_byte_at >= self._pause_that_ends_frame():
                frames.append(self._take(len(self._buffer)))
            return [frame for frame in frames if frame]
        self._last_byte_at = self._clock()
        self._buffer += chunk
        while True:
            end = self._frame_end()
            if end is None:
                break
            start_of_next, frame_length = end
            frames.append(self._take(frame_length, start_of_next))
        if len(self._buffer) > MAX_FRAME_BYTES:
            self._buffer.clear()
        return [frame for frame in frames if frame]

    def _pause_that_ends_frame(self) -> float:
        if self._buffer[-1:] in (b"\r", b"\n") and _looks_like_aamva(self._buffer):
            return self._aamva_end_pause_s
        return self._silence_s

    def _frame_end(self) -> tuple[int, int] | None:
        aamva = _looks_like_aamva(self._buffer)
        # A CR/LF-only suffix cannot be told from the separators inside AAMVA text: silence ends those.
        if self._suffix and not (aamva and not self._suffix.strip(b"\r\n")):
            index = self._buffer.find(self._suffix)
            if index >= 0:
                return index + len(self._suffix), index
        if aamva:
            return None
        for index, byte in enumerate(self._buffer):
            if byte in (0x0D, 0x0A):
                if byte == 0x0D and index + 1 == len(self._buffer):
                    return None  # a CR at the end of the buffer may be the first half of CRLF
                skip = 2 if byte == 0x0D and self._buffer[index + 1] == 0x0A else 1
                return index + skip, index
        return None

    def _take(self, frame_length: int, start_of_next: int | None = None) -> str:
        frame = bytes(self._buffer[:frame_length])
        del self._buffer[: frame_length if start_of_next is None else start_of_next]
        return frame.decode("utf-8", "replace").strip("\r\n")


def _looks_like_aamva(data: bytes | bytearray) -> bool:
    """AAMVA text starts with `@` (compliance indicator), after any blanks some scanners put first; its own
    LF/CR separators are not frame ends."""
    return bytes(data[:LEADING_BLANKS_MAX + 1]).lstrip(b" \t\r\n").startswith(b"@")
