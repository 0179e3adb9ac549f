"""Reads an ESC/POS byte stream like a receipt printer: keeps what was printed, answers DLE EOT.

Understands what python-escpos emits for text, styles, code pages, native QR codes, feeds and cuts;
other commands are skipped by their declared length so they cannot derail the parse.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from escpos.capabilities import get_profile

ESC, GS, DLE, LF = 0x1B, 0x1D, 0x10, 0x0A
_CODE_PAGES = get_profile("default").codePages

# Bytes of parameters after ESC x / GS x for fixed-length commands.
_ESC_PARAMS = {0x40: 0, 0x61: 1, 0x45: 1, 0x47: 1, 0x21: 1, 0x2D: 1, 0x4D: 1, 0x74: 1, 0x64: 1, 0x4A: 1,
               0x32: 0, 0x33: 1, 0x7B: 1, 0x56: 1, 0x52: 1, 0x20: 1, 0x63: 2, 0x70: 3, 0x42: 2, 0x3D: 1}
_GS_PARAMS = {0x21: 1, 0x42: 1, 0x62: 1, 0x48: 1, 0x66: 1, 0x68: 1, 0x77: 1, 0x4C: 2, 0x57: 2, 0x72: 1,
              0x61: 1, 0x49: 1}


@dataclass
class PrintedLine:
    text: str
    width: int = 1
    height: int = 1
    bold: bool = False


@dataclass
class Receipt:
    lines: list[PrintedLine] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    complete: bool = False  # cut with paper in the printer

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass
class PrinterCondition:
    paper_low: bool = False
    paper_out: bool = False
    cover_open: bool = False
    offline: bool = False
    silent: bool = False  # never answers status queries, like many cheap printers
    paper_left_bytes: int | None = None  # runs out of paper after this many more bytes

    def can_print(self) -> bool:
        return not (self.paper_out or self.cover_open or self.offline)

    def status_byte(self, n: int) -> int:
        byte = 0x12
        if n == 1 and (self.offline or self.paper_out or self.cover_open):
            byte |= 0x08
        if n == 2:
            byte |= 0x04 if self.cover_open else 0
            byte |= 0x20 if self.paper_out else 0
        if n == 4:
            byte |= 0x0C if self.paper_low or self.paper_out else 0
            byte |= 0x60 if self.paper_out else 0
        return byte


class EscposInterpreter:
    def __init__(self, condition: PrinterCondition | None = None):
        self.condition = condition or PrinterCondition()
        self.receipts: list[Receipt] = []
        self.status_queries = 0
        self._pending = bytearray()
        self._current = Receipt()
        self._line = bytearray()
        self._codec = "cp437"
        self._width = self._height = 1
        self._bold = False

    def feed(self, data: bytes) -> bytes:
        """Consume bytes; return the printer's answers (status bytes)."""
        self._pending += data
        replies = bytearray()
        while self._pending:
            used = self._step(replies)
            if used == 0:
                break  # incomplete command: wait for more bytes
            del self._pending[:used]
        return bytes(replies)

    def _step(self, replies: bytearray) -> int:
        buf = self._pending
        first = buf[0]
        if first == DLE:
            if len(buf) < 3:
                return 0
            if buf[1] == 0x04:
                self.status_queries += 1
                if not self.condition.silent:
                    replies.append(self.condition.status_byte(buf[2]))
                return 3
            return 3 if buf[1] in (0x05, 0x14) else 1
        self._consume_paper()
        if first == LF:
            self._end_line()
            return 1
        if first == ESC:
            return self._esc(buf)
        if first == GS:
            return self._gs(buf)
        if first >= 0x20 or first == 0x09:
            self._line.append(first)
        return 1

    def _consume_paper(self) -> None:
        condition = self.condition
        if condition.paper_left_bytes is not None:
            condition.paper_left_bytes -= 1
            if condition.paper_left_bytes <= 0:
                condition.paper_out, condition.paper_left_bytes = True, None

    def _esc(self, buf: bytearray) -> int:
        if len(buf) < 2:
            return 0
        command = buf[1]
        size = 2 + _ESC_PARAMS.get(command, 0)
        if len(buf) < size:
            return 0
        arg = buf[2] if size > 2 else 0
        if command == 0x40:
            self._codec, self._width, self._height, self._bold = "cp437", 1, 1, False
        elif command == 0x45:
            self._bold = bool(arg & 1)
        elif command == 0x21:
            self._bold = bool(arg & 0x08)
            self._width, self._height = (2 if arg & 0x20 else 1), (2 if arg & 0x10 else 1)
        elif command == 0x74:
            self._codec = _python_codec(arg)
        elif command in (0x64, 0x4A):
            self._end_line()
        return size

    def _gs(self, buf: bytearray) -> int:
        if len(buf) < 2:
            return 0
        command = buf[1]
        if command == 0x28:  # GS ( x pL pH ...
            if len(buf) < 5:
                return 0
            length = buf[3] | (buf[4] << 8)
            if len(buf) < 5 + length:
                return 0
            body = bytes(buf[5 : 5 + length])
            if buf[2] == 0x6B and body[:3] == b"1P0":
                self._current.qr_codes.append(body[3:].decode("utf-8", "replace"))
            return 5 + length
        if command == 0x56:  # GS V m [n]
            if len(buf) < 3:
                return 0
            size = 4 if buf[2] in (65, 66) else 3
            if len(buf) < size:
                return 0
            self._cut()
            return size
        if command == 0x76 and len(buf) >= 3 and buf[2] == 0x30:  # GS v 0 m xL xH yL yH raster
            if len(buf) < 8:
                return 0
            width, height = buf[4] | buf[5] << 8, buf[6] | buf[7] << 8
            return 8 + width * height if len(buf) >= 8 + width * height else 0
        if command == 0x6B:  # GS k m ... barcode
            if len(buf) < 4:
                return 0
            if buf[2] >= 65:
                return 4 + buf[3] if len(buf) >= 4 + buf[3] else 0
            end = buf.find(b"\x00", 3)
            return end + 1 if end >= 0 else 0
        size = 2 + _GS_PARAMS.get(command, 0)
        if len(buf) < size:
            return 0
        if command == 0x21:
            self._width, self._height = (buf[2] >> 4) + 1, (buf[2] & 0x0F) + 1
        return size

    def _end_line(self) -> None:
        if not self.condition.can_print():
            self._line.clear()
            return
        text = bytes(self._line).decode(self._codec, "replace")
        self._line.clear()
        self._current.lines.append(PrintedLine(text, self._width, self._height, self._bold))

    def _cut(self) -> None:
        if self._line:
            self._end_line()
        self._current.complete = self.condition.can_print()
        self.receipts.append(self._current)
        self._current = Receipt()

    @property
    def printed(self) -> list[Receipt]:
        return [receipt for receipt in self.receipts if receipt.complete]


def _python_codec(number: int) -> str:
    name = _CODE_PAGES.get(str(number), "CP437").replace("_", "-").lower()
    try:
        codecs.lookup(name)
    except LookupError:
        return "cp437"
    return name
