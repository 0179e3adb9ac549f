"""ZPL label / wristband printer over raw TCP (port 9100) or a serial line, with ~HS host status."""

from __future__ import annotations

import time

from .base import STATUS_UNKNOWN, DeviceStatus
from .polled import PolledDevice
from .transports import Transport
from .zpl import HOST_STATUS_QUERY, LabelData, interpret_host_status, patient_label, wristband

ANSWER_TIMEOUT_S = 0.6
HOST_STATUS_STRINGS = 3  # ~HS answers three STX...ETX strings


class LabelPrinter(PolledDevice):
    kind = "label_printer"
    accepted_transports = ("tcp", "serial")

    def print_label(self, data: LabelData) -> bool:
        return self._send_job(patient_label(data).encode("utf-8"), "label").printed

    def print_wristband(self, data: LabelData) -> bool:
        return self._send_job(wristband(data).encode("utf-8"), "wristband").printed

    def _query_status(self, transport: Transport) -> DeviceStatus:
        transport.write(HOST_STATUS_QUERY)
        answer = bytearray()
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while answer.count(b"\x03") < HOST_STATUS_STRINGS:
            remaining = deadline - time.monotonic()
            chunk = transport.read(256, remaining) if remaining > 0 else b""
            if not chunk:
                break  # whatever arrived before the printer fell silent
            answer += chunk
        return interpret_host_status(bytes(answer)) if answer else STATUS_UNKNOWN
