"""The reconnect loop every driver runs: connect, serve until the device goes away, report offline, retry."""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from typing import Callable

from .base import Device, DeviceState, MisconfiguredDevice

FIRST_RETRY_S = 0.5
LONGEST_RETRY_S = 4.0


class Backoff:
    """Retry delays that double from `first` up to `longest`, back to `first` after a success."""

    def __init__(self, first: float = FIRST_RETRY_S, longest: float = LONGEST_RETRY_S):
        self.first, self.longest = first, longest
        self._next = first

    def next_delay(self) -> float:
        delay, self._next = self._next, min(self.longest, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


class ReconnectingDevice(Device):
    """A device served by one background thread that reconnects by itself, backing off while it is absent.

    Subclasses implement `_connect()` (raise OSError-like errors when the device is absent), `_serve()`
    (return or raise when the connection is lost; check `self._stopping` often) and `_disconnect()`.
    """

    first_retry_s: float = FIRST_RETRY_S
    longest_retry_s: float = LONGEST_RETRY_S

    def __init__(self, config, on_event):
        super().__init__(config, on_event)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._set_status(DeviceState.UNKNOWN, "connecting")
        self._thread = threading.Thread(target=self._run, name=f"device-{self.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        self._disconnect_quietly()
        self._set_status(DeviceState.OFFLINE, "closed")

    def _run(self) -> None:
        backoff = Backoff(self.first_retry_s, self.longest_retry_s)
        while not self._stopping.is_set():
            try:
                self._connect()
            except Exception as exc:  # noqa: BLE001 - any failure to connect means "not there yet"
                reason = str(exc) if isinstance(exc, MisconfiguredDevice) else self._absent_reason(exc)
                self._set_status(DeviceState.OFFLINE, reason)
                self._disconnect_quietly()
                self._stopping.wait(backoff.next_delay())
                continue
            backoff.reset()
            try:
                self._serve()
            except Exception as exc:  # noqa: BLE001 - a lost device surfaces as many error types
                if not self._stopping.is_set():
                    self._set_status(DeviceState.OFFLINE, self._lost_reason(exc))
            finally:
                self._disconnect_quietly()
            self._stopping.wait(backoff.next_delay())

    def _disconnect_quietly(self) -> None:
        try:
            self._disconnect()
        except Exception:  # noqa: BLE001 - closing a vanished device may fail in any way
            pass

    def _absent_reason(self, exc: Exception) -> str:
        return "not connected"

    def _lost_reason(self, exc: Exception) -> str:
        return "disconnected"

    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _serve(self) -> None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll `condition` until it is true or `timeout` seconds have passed; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
