"""A device the kiosk talks to through a transport and asks for its status on an interval (the printers).

`PolledDevice` connects the configured transport, asks `_query_status` right away and then every
`status_poll_s`, reports each change as a `StatusChanged`, and reconnects with backoff when the device
goes away. `_send_job` is the print flow both printers share: refuse when the device says it cannot
print, send, then ask again so a fault during the job (paper ran out) is reported rather than "printed".
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Collection
from dataclasses import dataclass

from .base import DeviceState, DeviceStatus, Printed
from .connection_loop import ReconnectingDevice
from .transports import Transport, transport_for

STATUS_POLL_S = 2.0


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    reason: str = ""  # why not, or "status unknown" when the printer cannot confirm


class PolledDevice(ReconnectingDevice):
    accepted_transports: Collection[str] = ()
    status_poll_s: float = STATUS_POLL_S

    def __init__(self, config, on_event):
        super().__init__(config, on_event)
        self._transport: Transport | None = None
        self._io = threading.Lock()  # one conversation with the device at a time

    def refresh_status(self) -> DeviceStatus:
        """Ask the device now (the poll would within `status_poll_s`)."""
        with self._io:
            return self._poll_locked() if self._transport is not None else self.status

    @abstractmethod
    def _query_status(self, transport: Transport) -> DeviceStatus:
        """Ask the device how it is; raise OSError when the conversation fails."""

    # -- jobs -------------------------------------------------------------------------------------------

    def _send_job(self, data: bytes, job: str) -> PrintOutcome:
        with self._io:
            if self._transport is None:
                return PrintOutcome(False, self.status.reason or "offline")
            before = self._poll_locked()
            if _refuses(before):
                return PrintOutcome(False, before.reason)
            try:
                self._transport.write(data)
            except OSError:
                self._drop_locked()
                return PrintOutcome(False, "offline")
            after = self._poll_locked()
        if _refuses(after):
            return PrintOutcome(False, after.reason)
        self._emit(Printed(self.name, job))
        return PrintOutcome(True, "status unknown" if after.state == DeviceState.UNKNOWN else "")

    # -- connection loop --------------------------------------------------------------------------------

    def _connect(self) -> None:
        transport = transport_for(self.config, self.accepted_transports)
        transport.open()
        with self._io:
            self._transport = transport
            self._poll_locked()
            if self._transport is None:
                raise ConnectionError(f"{self.name} stopped answering")

    def _serve(self) -> None:
        while not self._stopping.wait(self.status_poll_s):
            with self._io:
                if self._transport is None:
                    raise ConnectionError(f"{self.name} connection lost")
                self._poll_locked()

    def _disconnect(self) -> None:
        with self._io:
            transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _absent_reason(self, exc: Exception) -> str:
        return "offline"

    _lost_reason = _absent_reason

    # -- status -----------------------------------------------------------------------------------------

    def _poll_locked(self) -> DeviceStatus:
        assert self._transport is not None
        try:
            self._transport.discard_input()  # late answers to earlier questions
            status = self._query_status(self._transport)
        except OSError:
            self._drop_locked()
            return self.status
        self._set_status(status.state, status.reason)
        return status

    def _drop_locked(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.close()
            except OSError:
                pass
        self._set_status(DeviceState.OFFLINE, "offline")


def _refuses(status: DeviceStatus) -> bool:
    """A device that says it cannot print refuses the job; one that cannot tell (UNKNOWN) gets it."""
    return not status.usable and status.state != DeviceState.UNKNOWN
