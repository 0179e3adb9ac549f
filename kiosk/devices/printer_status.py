"""Decode ESC/POS real-time status bytes (DLE EOT n) into one device status."""

from __future__ import annotations

from .base import STATUS_UNKNOWN, DeviceState, DeviceStatus

DLE_EOT = b"\x10\x04"
PRINTER, OFFLINE_CAUSE, ERRORS, PAPER = 1, 2, 3, 4
QUERIES = (PRINTER, OFFLINE_CAUSE, ERRORS, PAPER)


def _valid(byte: int | None) -> bool:
    # Every real-time status byte has bits 1 and 4 set and bits 0 and 7 clear.
    return byte is not None and byte & 0b1001_0011 == 0b0001_0010


def interpret(answers: dict[int, int | None]) -> DeviceStatus:
    """Turn the answers to DLE EOT 1..4 (None where the printer stayed silent) into a status.

    Silence or a malformed byte on every query means we cannot tell: UNKNOWN, never ONLINE.
    """
    valid = {n: byte for n, byte in answers.items() if isinstance(byte, int) and _valid(byte)}
    if not valid:
        return STATUS_UNKNOWN
    printer, cause, errors, paper = (valid.get(n) for n in QUERIES)
    if cause is not None and cause & 0b0000_0100:
        return DeviceStatus(DeviceState.OFFLINE, "cover open")
    if (paper is not None and paper & 0b0110_0000) or (cause is not None and cause & 0b0010_0000):
        return DeviceStatus(DeviceState.OFFLINE, "paper out")
    if errors is not None and errors & 0b0010_1000:
        return DeviceStatus(DeviceState.OFFLINE, "printer error")
    if (cause is not None and cause & 0b0100_0000) or (errors is not None and errors & 0b0100_0000):
        return DeviceStatus(DeviceState.OFFLINE, "printer error")
    if printer is not None and printer & 0b0000_1000:
        return DeviceStatus(DeviceState.OFFLINE, "offline")
    if paper is not None and paper & 0b0000_1100:
        return DeviceStatus(DeviceState.DEGRADED, "paper low")
    if len(valid) < len(QUERIES):
        return DeviceStatus(DeviceState.DEGRADED, "status partly unknown")
    return DeviceStatus(DeviceState.ONLINE)


def query(n: int) -> bytes:
    return DLE_EOT + bytes([n])
