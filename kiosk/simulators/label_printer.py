"""A simulated Zebra-style ZPL printer on a TCP port: keeps each label's fields, answers ~HS."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.devices.zpl import host_status_answer

from .transports import PtyPeer, TcpPeer


@dataclass
class ZplField:
    kind: str  # "text", "code128", "qr"
    data: str


@dataclass
class ZplLabel:
    fields: list[ZplField] = field(default_factory=list)
    utf8: bool = False
    raw: str = ""

    def of_kind(self, kind: str) -> list[str]:
        return [f.data for f in self.fields if f.kind == kind]


def parse_label(zpl: str) -> ZplLabel:
    """Read one ^XA..^XZ block: which fields it prints and how (text, Code 128, QR)."""
    label = ZplLabel(raw=zpl)
    pending_kind, hex_escape = "text", None
    for match in re.finditer(r"\^([A-Z0-9]{2})([^\^~]*)", zpl):
        command, args = match.group(1), match.group(2)
        if command == "CI":
            label.utf8 = args.strip().startswith("28")
        elif command.startswith("BC"):
            pending_kind = "code128"
        elif command.startswith("BQ"):
            pending_kind = "qr"
        elif command.startswith("A0") or command == "FO":
            pass
        elif command == "FH":
            hex_escape = args[:1] or "_"
        elif command == "FD":
            data = args.rstrip("\r\n")
            if hex_escape:
                data = re.sub(re.escape(hex_escape) + r"([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), data)
            if pending_kind == "qr":
                data = data.split(",", 1)[1] if "," in data else data
            label.fields.append(ZplField(pending_kind, data))
        elif command == "FS":
            pending_kind, hex_escape = "text", None
    return label


class SimulatedLabelPrinter:
    def __init__(self, port: int = 0, pty_link: Path | None = None):
        self.transport = PtyPeer(pty_link, self._handle) if pty_link else TcpPeer(self._handle, port)
        self.labels: list[ZplLabel] = []
        self.paper_out = False
        self.head_open = False
        self.labels_left: int | None = None  # None: endless roll; 0: the next label runs out of paper
        self._buffer = ""
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.transport.port

    def start(self) -> None:
        self.transport.start()

    def stop(self) -> None:
        self.transport.stop()

    def run_out_of_paper_after(self, labels: int) -> None:
        """Print `labels` more labels, then run out of paper in the middle of the next one."""
        with self._lock:
            self.labels_left = labels

    def _handle(self, data: bytes) -> bytes:
        """Status queries and labels in the order they arrived, as a printer works through its input."""
        with self._lock:
            self._buffer += data.decode("utf-8", "replace")
            reply = b""
            while True:
                query, start = self._buffer.find("~HS"), self._buffer.find("^XA")
                if query >= 0 and (start < 0 or query < start):
                    self._buffer = self._buffer[:query] + self._buffer[query + 3 :]
                    reply += host_status_answer(paper_out=self.paper_out, head_open=self.head_open)
                    continue
                end = self._buffer.find("^XZ", start) if start >= 0 else -1
                if end < 0:
                    return reply  # nothing more to do until the rest of a label arrives
                self._print(self._buffer[start : end + 3])
                self._buffer = self._buffer[end + 3 :]

    def _print(self, zpl: str) -> None:
        if self.labels_left == 0:
            self.paper_out, self.labels_left = True, None
        if not (self.paper_out or self.head_open):
            self.labels.append(parse_label(zpl))
            if self.labels_left is not None:
                self.labels_left -= 1
