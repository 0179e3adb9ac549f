"""The contract every device driver follows.

A driver is created with its configuration and a callback; `open()` starts it (a background thread that
connects, reads, and reconnects by itself after the device goes away); `close()` stops it. `status` is
always answerable without touching the device. Events reach the app through the callback, on the
driver's thread: the app marshals them to its own thread.
"""

from __future__ import annotations

import enum
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Union

from lobby_core.site_config import DeviceConfig
from lobby_core.contract import DeviceHealth, Signature

from .identity import Identity


class DeviceState(str, enum.Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"  # works, with a reason (paper low)
    UNKNOWN = "unknown"  # cannot tell (a printer that never answers status)


@dataclass(frozen=True)
class DeviceStatus:
    state: DeviceState
    reason: str = ""

    @property
    def usable(self) -> bool:
        return self.state in (DeviceState.ONLINE, DeviceState.DEGRADED)


STATUS_UNKNOWN = DeviceStatus(DeviceState.UNKNOWN, "status unknown")


class MisconfiguredDevice(ValueError):
    """The `[[kiosk.devices]]` entry cannot work as written; the message says why (shown by `kiosk doctor`)."""


@dataclass(frozen=True)
class StatusChanged:
    device: str
    status: DeviceStatus


@dataclass(frozen=True)
class Scanned:
    device: str
    text: str

    def __repr__(self) -> str:
        return f"Scanned(device={self.device!r}, {len(self.text)} chars)"


@dataclass(frozen=True)
class CardInserted:
    device: str
    identity: Identity | None  # None when the card could not be read
    problem: str = ""  # plain-language reason when identity is None ("card not supported")


@dataclass(frozen=True)
class CardRemoved:
    device: str


@dataclass(frozen=True)
class SignatureCaptured:
    device: str
    signature: Signature

    def __repr__(self) -> str:
        return f"SignatureCaptured(device={self.device!r}, {len(self.signature.strokes)} strokes)"


@dataclass(frozen=True)
class Printed:
    device: str
    job: str


DeviceEvent = Union[StatusChanged, Scanned, CardInserted, CardRemoved, SignatureCaptured, Printed]
EventSink = Callable[[DeviceEvent], None]


class Device(ABC):
    kind: str = ""

    def __init__(self, config: DeviceConfig, on_event: EventSink):
        self.config = config
        self.name = config.label
        self._on_event = on_event
        self._status = DeviceStatus(DeviceState.UNKNOWN, "not opened")
        self._status_lock = threading.Lock()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @property
    def status(self) -> DeviceStatus:
        with self._status_lock:
            return self._status

    def health(self) -> DeviceHealth:
        status = self.status
        return DeviceHealth(name=self.name, kind=self.kind, state=status.state.value, reason=status.reason)

    def _set_status(self, state: DeviceState, reason: str = "") -> None:
        new = DeviceStatus(state, reason)
        with self._status_lock:
            changed, self._status = new != self._status, new
        if changed:
            self._emit(StatusChanged(self.name, new))

    def _emit(self, event: DeviceEvent) -> None:
        self._on_event(event)
