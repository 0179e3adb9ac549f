"""Each byte transport against a real peer: a loopback TCP listener, a pseudo-terminal, a FIFO, a file."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

from lobby_core.site_config import DeviceConfig
from kiosk.devices.base import MisconfiguredDevice
from kiosk.devices.connection_loop import Backoff
from kiosk.devices.transports import TRANSPORTS, DeviceGone, Transport, transport_for
from kiosk.devices.transports.file import FileTransport
from kiosk.devices.transports.serial import SerialTransport
from kiosk.devices.transports.tcp import TcpTransport
from kiosk.devices.transports.usb import UsbTransport
from kiosk.simulators.transports import PtyPeer, TcpPeer

from .conftest import wait_until

SILENCE_S = 0.15


def echo(data: bytes) -> bytes:
    return data.upper() if data != b"quiet" else b""


def read_exactly(transport: Transport, count: int, timeout: float = 5.0) -> bytes:
    received = bytearray()
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        received += transport.read(count - len(received), 0.2)
    return bytes(received)


@pytest.fixture
def tcp_peer():
    peer = TcpPeer(echo)
    peer.start()
    yield peer
    peer.stop()


@pytest.fixture
def pty_peer(tmp_path):
    peer = PtyPeer(tmp_path / "device.tty", echo)
    peer.start()
    yield peer
    peer.stop()


def tcp(peer: TcpPeer) -> TcpTransport:
    return TcpTransport(*peer.address)


def serial(peer: PtyPeer) -> SerialTransport:
    return SerialTransport(str(peer.link), 115200)


def char_device(peer: PtyPeer) -> FileTransport:
    return FileTransport(str(peer.link))


TWO_WAY = [(tcp, "tcp_peer"), (serial, "pty_peer"), (char_device, "pty_peer")]
TWO_WAY_IDS = ["tcp", "serial", "file-chardev"]


@pytest.fixture(params=TWO_WAY, ids=TWO_WAY_IDS)
def two_way(request):
    """(peer, a transport to it not yet opened) for each transport that carries answers back."""
    make, peer_fixture = request.param
    peer = request.getfixturevalue(peer_fixture)
    transport = make(peer)
    yield peer, transport
    transport.close()


def test_bytes_go_out_and_answers_come_back(two_way):
    _, transport = two_way
    with transport:
        assert transport.answers
        transport.write(b"status?")
        assert read_exactly(transport, 7) == b"STATUS?"


def test_read_returns_what_arrived_without_waiting_for_n(two_way):
    _, transport = two_way
    with transport:
        transport.write(b"abc")
        first = read_exactly(transport, 1)
        assert first + read_exactly(transport, 2) == b"ABC"
        transport.write(b"xyz")
        time.sleep(0.05)  # let all three bytes arrive, then one read takes them together
        assert transport.read(4096, 1.0) == b"XYZ"


def test_silence_is_an_empty_read_after_the_timeout(two_way):
    _, transport = two_way
    with transport:
        transport.write(b"quiet")
        started = time.monotonic()
        assert transport.read(16, SILENCE_S) == b""
        assert time.monotonic() - started >= SILENCE_S * 0.9
        assert transport.read(16, 0) == b""  # 0: only what is already waiting


def test_discard_input_drops_late_answers(two_way):
    _, transport = two_way
    with transport:
        transport.write(b"late")
        time.sleep(0.1)
        transport.discard_input()
        assert transport.read(16, 0.05) == b""
        transport.write(b"now")
        assert read_exactly(transport, 3) == b"NOW"


def test_peer_going_away_is_an_error_not_silence(two_way):
    peer, transport = two_way
    transport.open()
    if isinstance(peer, TcpPeer):
        wait_until(lambda: peer.connected_clients == 1)
    peer.stop()
    with pytest.raises(OSError):
        for _ in range(20):  # the error surfaces on the first read that sees the hang-up
            transport.read(16, 0.1)


def test_close_is_idempotent_and_a_closed_transport_refuses_io(two_way):
    _, transport = two_way
    transport.close()  # never opened
    transport.open()
    assert transport.is_open
    transport.close()
    transport.close()
    assert not transport.is_open
    with pytest.raises(DeviceGone):
        transport.write(b"x")
    with pytest.raises(DeviceGone):
        transport.read(1, 0.01)


def test_reopening_reaches_a_peer_that_came_back(two_way):
    peer, transport = two_way
    transport.open()
    peer.stop()
    peer.start()
    transport.open()  # open() replaces a dead connection
    transport.write(b"again")
    assert read_exactly(transport, 5) == b"AGAIN"


def test_absent_devices_fail_to_open_with_os_errors(tmp_path):
    with pytest.raises(OSError):
        TcpTransport("127.0.0.1", closed_port()).open()
    with pytest.raises(OSError):
        SerialTransport(str(tmp_path / "no-such.tty")).open()
    with pytest.raises(FileNotFoundError):
        FileTransport(str(tmp_path / "lp0")).open()
    assert not (tmp_path / "lp0").exists()  # an unplugged device node is never created as a file


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_regular_file_appends_and_never_answers(tmp_path):
    spool = tmp_path / "spool.bin"
    spool.write_bytes(b"earlier job|")
    with FileTransport(str(spool)) as transport:
        assert not transport.answers
        transport.write(b"\x10\x04\x01")
        started = time.monotonic()
        assert transport.read(1, 5.0) == b""
        assert time.monotonic() - started < 1.0  # nothing can answer: no waiting out the timeout
    with FileTransport(str(spool)) as transport:
        transport.write(b"second")
    assert spool.read_bytes() == b"earlier job|\x10\x04\x01second"


def test_fifo_carries_bytes_to_its_reader_and_reports_a_vanished_reader(tmp_path):
    fifo = tmp_path / "printer.fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        FileTransport(str(fifo)).open()  # nobody reads: fails at once instead of hanging
    received = bytearray()
    reader_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        transport = FileTransport(str(fifo))
        transport.open()
        assert not transport.answers
        transport.write(b"ticket bytes")
        wait_until(lambda: received.extend(_read_some(reader_fd)) or bytes(received) == b"ticket bytes")
        assert transport.read(16, 1.0) == b""
    finally:
        os.close(reader_fd)
    with pytest.raises(DeviceGone):
        transport.write(b"more")
    transport.close()
    transport.close()


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def test_a_writer_nobody_drains_times_out(tmp_path):
    fifo = tmp_path / "stuck.fifo"
    os.mkfifo(fifo)
    reader_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        transport = FileTransport(str(fifo), write_timeout=0.2)
        transport.open()
        with pytest.raises(TimeoutError):
            transport.write(b"x" * (2 * 1024 * 1024))  # more than the pipe holds
        transport.close()
    finally:
        os.close(reader_fd)


def test_usb_transport_without_a_device():
    """No USB bus exists in this sandbox: only the absent-device paths can run against real libusb."""
    transport = UsbTransport(0x0416, 0x5011)
    transport.close()  # never opened: nothing to release
    with pytest.raises(OSError, match="0416:5011 not found|libusb"):
        transport.open()
    assert not transport.is_open
    with pytest.raises(DeviceGone):
        transport.write(b"\x1b@")
    with pytest.raises(DeviceGone):
        transport.read(1, 0.01)


@pytest.mark.parametrize(
    "entry, message",
    [
        (dict(kind="receipt_printer", transport="usb"), "a USB device needs usb_vendor and usb_product (see lsusb)"),
        (dict(kind="receipt_printer", transport="usb", usb_vendor=0x0416), "a USB device needs usb_vendor"),
        (dict(kind="receipt_printer", transport="serial"), "no serial port configured (port = ...)"),
        (dict(kind="receipt_printer", transport="file"), "no device file configured (port = ...)"),
        (dict(kind="label_printer", transport="usb", usb_vendor=1, usb_product=2),
         "a label printer uses transport tcp or serial, not 'usb'"),
        (dict(kind="receipt_printer", transport="pcsc"), "not 'pcsc'"),
    ],
)
def test_misconfigured_entries_say_what_is_wrong(entry, message):
    accepted = ("tcp", "serial") if entry["kind"] == "label_printer" else ("tcp", "serial", "usb", "file", "pcsc")
    with pytest.raises(MisconfiguredDevice, match=re.escape(message)):
        transport_for(DeviceConfig(**entry), accepted)


@pytest.mark.parametrize(
    "entry, kind, settings",
    [
        (dict(transport="tcp", host="192.0.2.10", tcp_port=9101), TcpTransport, {"host": "192.0.2.10", "port": 9101}),
        (dict(transport="tcp"), TcpTransport, {"host": "127.0.0.1", "port": 9100}),
        (dict(transport="serial", port="/dev/ttyUSB0", baudrate=19200, parity="E"), SerialTransport,
         {"port": "/dev/ttyUSB0", "baudrate": 19200, "parity": "E"}),
        (dict(transport="usb", usb_vendor=0x04B8, usb_product=0x0202), UsbTransport, {"vendor": 0x04B8, "product": 0x0202}),
        (dict(transport="file", port="/dev/usb/lp0"), FileTransport, {"path": "/dev/usb/lp0"}),
    ],
)
def test_the_table_builds_each_transport_from_its_entry(entry, kind, settings):
    transport = transport_for(DeviceConfig(kind="receipt_printer", **entry), TRANSPORTS)
    assert type(transport) is kind and not transport.is_open
    assert {name: getattr(transport, name) for name in settings} == settings


def test_backoff_doubles_to_its_ceiling_and_resets():
    backoff = Backoff(first=0.5, longest=4.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
