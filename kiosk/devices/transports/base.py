"""What a driver needs from the wire to its device: write bytes, read with a timeout, close.

A transport is built from its settings (nothing touches the device), connected by `open()` (an OSError
when the device is absent), and closed by `close()` (always safe, any number of times). `read(n, timeout)`
returns as soon as some bytes arrived (at most `n`), or b"" when none came within `timeout` seconds (0:
only what is already waiting); it raises ConnectionError when the device went away. Every failure is an
OSError, so drivers catch one type whatever the wire.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lobby_core.site_config import DeviceConfig

WRITE_TIMEOUT_S = 5.0


class DeviceGone(ConnectionError):
    """The device hung up or vanished (peer closed, cable pulled)."""


class Transport(ABC):
    #: False for write-only wires (a spool file, a FIFO): reads return b"" at once, nothing will answer.
    answers: bool = True

    def __init__(self, write_timeout: float = WRITE_TIMEOUT_S):
        self.write_timeout = write_timeout

    @classmethod
    @abstractmethod
    def from_config(cls, config: "DeviceConfig") -> "Transport":
        """Settings from a `[[kiosk.devices]]` entry; MisconfiguredDevice when a needed one is missing."""

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def read(self, n: int, timeout: float) -> bytes: ...

    @abstractmethod
    def close(self) -> None: ...

    def discard_input(self) -> None:
        """Drop bytes that arrived unasked (late answers), so the next answer matches its question."""
        while self.read(4096, 0):
            pass

    def _require_open(self) -> None:
        if not self.is_open:
            raise DeviceGone(f"{type(self).__name__} is not open")

    def __enter__(self) -> "Transport":
        if not self.is_open:
            self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
