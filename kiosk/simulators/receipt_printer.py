"""A simulated ESC/POS receipt printer on TCP 9100-style port or a pseudo-terminal."""

from __future__ import annotations

import threading
from pathlib import Path

from .escpos_interpreter import EscposInterpreter, PrinterCondition, Receipt
from .transports import PtyPeer, TcpPeer

CONDITIONS = ("ok", "paper-low", "paper-out", "cover-open", "offline", "silent")


class SimulatedReceiptPrinter:
    def __init__(self, port: int = 0, pty_link: Path | None = None):
        self.interpreter = EscposInterpreter()
        self._lock = threading.Lock()
        self.transport = PtyPeer(pty_link, self._handle) if pty_link else TcpPeer(self._handle, port)

    def _handle(self, data: bytes) -> bytes:
        with self._lock:
            return self.interpreter.feed(data)

    def start(self) -> None:
        self.transport.start()

    def stop(self) -> None:
        self.transport.stop()

    @property
    def port(self) -> int:
        return self.transport.port  # type: ignore[union-attr]

    @property
    def condition(self) -> PrinterCondition:
        return self.interpreter.condition

    def set_condition(self, name: str) -> None:
        """One of CONDITIONS; "ok" clears every fault."""
        if name not in CONDITIONS:
            raise ValueError(f"unknown printer condition {name!r}; one of {', '.join(CONDITIONS)}")
        with self._lock:
            condition = self.interpreter.condition
            condition.paper_low = name == "paper-low"
            condition.paper_out = name == "paper-out"
            condition.cover_open = name == "cover-open"
            condition.offline = name == "offline"
            condition.silent = name == "silent"
            condition.paper_left_bytes = None

    def run_out_of_paper_after(self, byte_count: int) -> None:
        with self._lock:
            self.interpreter.condition.paper_left_bytes = byte_count

    @property
    def printed(self) -> list[Receipt]:
        with self._lock:
            return list(self.interpreter.printed)

    @property
    def all_receipts(self) -> list[Receipt]:
        with self._lock:
            return list(self.interpreter.receipts)
