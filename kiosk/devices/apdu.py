"""ISO 7816-4 exchanges over any `transmit(apdu) -> (data, sw1, sw2)` (pyscard's connection.transmit)."""

from __future__ import annotations

from typing import Callable

Transmit = Callable[[list[int]], tuple[list[int], int, int]]
MAX_CHUNK = 0xFC


class CardError(Exception):
    """The card answered with a status word we cannot continue from."""

    def __init__(self, sw1: int, sw2: int, command: str):
        super().__init__(f"{command}: status {sw1:02X}{sw2:02X}")
        self.sw = (sw1 << 8) | sw2


def exchange(transmit: Transmit, apdu: list[int], command: str = "APDU") -> bytes:
    """Send `apdu`, following 61xx (GET RESPONSE) and 6Cxx (resend with the right Le); return the data.

    Raises CardError on any other status except 6282 (end of file reached before Le bytes).
    """
    data, sw1, sw2 = transmit(apdu)
    if sw1 == 0x6C:
        data, sw1, sw2 = transmit(apdu[:4] + [sw2] if len(apdu) <= 5 else apdu[:-1] + [sw2])
    collected = list(data)
    rounds = 0
    while sw1 == 0x61 and rounds < 64:
        data, sw1, sw2 = transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        collected += data
        rounds += 1
    if (sw1, sw2) not in ((0x90, 0x00), (0x62, 0x82)):
        raise CardError(sw1, sw2, command)
    return bytes(collected)


def select_application(transmit: Transmit, aid: bytes) -> None:
    exchange(transmit, [0x00, 0xA4, 0x04, 0x0C, len(aid), *aid], "SELECT AID")


def select_path(transmit: Transmit, path: bytes) -> None:
    exchange(transmit, [0x00, 0xA4, 0x08, 0x0C, len(path), *path], "SELECT PATH")


def read_binary(transmit: Transmit, offset: int, length: int, short_file_id: int | None = None) -> bytes:
    if short_file_id is not None:
        p1, p2 = 0x80 | short_file_id, offset
    else:
        p1, p2 = (offset >> 8) & 0x7F, offset & 0xFF
    return exchange(transmit, [0x00, 0xB0, p1, p2, length & 0xFF], "READ BINARY")


def read_whole_file(transmit: Transmit, limit: int = 64 * 1024) -> bytes:
    """Read the currently selected EF to its end (short reads, 6282 or 6B00 end it)."""
    content = bytearray()
    while len(content) < limit:
        try:
            chunk = read_binary(transmit, len(content), MAX_CHUNK)
        except CardError as exc:
            if exc.sw == 0x6B00 and content:
                break
            raise
        content += chunk
        if len(chunk) < MAX_CHUNK:
            break
    return bytes(content)


def read_exactly(transmit: Transmit, offset: int, length: int) -> bytes:
    content = bytearray()
    while len(content) < length:
        chunk = read_binary(transmit, offset + len(content), min(MAX_CHUNK, length - len(content)))
        if not chunk:
            raise CardError(0x62, 0x82, "READ BINARY (file shorter than announced)")
        content += chunk
    return bytes(content)
