"""ESC/POS receipt printer through python-escpos (Network, Serial, Usb, File), with DLE EOT status."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import serial
from escpos import printer as escpos_printers
from escpos.escpos import Escpos

from edge_agent.config import DEFAULT_TRANSLATIONS_DIR

from . import printer_status, ticket as ticket_layout
from .base import DeviceState, DeviceStatus, Printed
from .connection_loop import MisconfiguredDevice, ReconnectingDevice
from .printer_status import STATUS_UNKNOWN

STATUS_POLL_S = 2.0
STATUS_ANSWER_TIMEOUT_S = 0.4
WRITE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    reason: str = ""  # why not, or "status unknown" when the printer cannot confirm


def build_escpos(config) -> Escpos:
    """The python-escpos printer object for a `[[kiosk.devices]]` entry (not yet opened)."""
    if config.transport == "tcp":
        return escpos_printers.Network(host=config.host or "127.0.0.1", port=config.tcp_port, timeout=WRITE_TIMEOUT_S)
    if config.transport == "serial":
        return escpos_printers.Serial(
            devfile=config.port, baudrate=config.baudrate, parity=config.parity, timeout=STATUS_ANSWER_TIMEOUT_S, dsrdtr=False
        )
    if config.transport == "usb":
        if config.usb_vendor is None or config.usb_product is None:
            raise MisconfiguredDevice("a USB receipt printer needs usb_vendor and usb_product")
        return escpos_printers.Usb(idVendor=config.usb_vendor, idProduct=config.usb_product)
    if config.transport == "file":
        return escpos_printers.File(devfile=config.port)
    raise MisconfiguredDevice(f"receipt printers do not use transport {config.transport!r}")


class ReceiptPrinter(ReconnectingDevice):
    kind = "receipt_printer"
    status_poll_s = STATUS_POLL_S

    def __init__(self, config, on_event, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR):
        super().__init__(config, on_event)
        self._translations_dir = translations_dir
        self._printer: Escpos | None = None
        self._io = threading.Lock()  # one conversation with the printer at a time

    # -- public -------------------------------------------------------------------------------------

    def print_ticket(self, ticket: ticket_layout.Ticket) -> PrintOutcome:
        """Print one ticket; refuse when the printer says it cannot, and check it did not run out mid-job."""
        with self._io:
            if self._printer is None:
                return PrintOutcome(False, self.status.reason or "offline")
            before = self._poll_locked()
            if not before.usable and before.state != DeviceState.UNKNOWN:
                return PrintOutcome(False, before.reason)
            try:
                ticket_layout.render(ticket, self._printer, self._translations_dir)
            except Exception as exc:  # noqa: BLE001 - a vanished printer fails in transport-specific ways
                self._drop_connection_locked(exc)
                return PrintOutcome(False, "offline")
            after = self._poll_locked()
        if not after.usable and after.state != DeviceState.UNKNOWN:
            return PrintOutcome(False, after.reason)
        self._emit(Printed(self.name, f"ticket {ticket.number}"))
        return PrintOutcome(True, "status unknown" if after.state == DeviceState.UNKNOWN else "")

    def refresh_status(self) -> DeviceStatus:
        with self._io:
            if self._printer is None:
                return self.status
            return self._poll_locked()

    # -- connection loop ----------------------------------------------------------------------------

    def _connect(self) -> None:
        printer = build_escpos(self.config)
        printer.open()
        if isinstance(getattr(printer, "device", None), socket.socket):
            # 3-byte status queries right after a job would otherwise wait out Nagle + delayed ACK (~40 ms).
            printer.device.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._io:
            self._printer = printer
            self._poll_locked()

    def _serve(self) -> None:
        while not self._stopping.wait(self.status_poll_s):
            with self._io:
                if self._printer is None:
                    raise ConnectionError("printer connection lost")
                self._poll_locked()

    def _disconnect(self) -> None:
        with self._io:
            printer, self._printer = self._printer, None
        if printer is not None:
            printer.close()

    def _absent_reason(self, exc: Exception) -> str:
        return "offline"

    def _lost_reason(self, exc: Exception) -> str:
        return "offline"

    # -- status -------------------------------------------------------------------------------------

    def _poll_locked(self) -> DeviceStatus:
        try:
            answers: dict[int, int | None] = {}
            self._drain_locked()
            for n in printer_status.QUERIES:
                self._printer._raw(printer_status.query(n))
                answers[n] = self._read_status_byte_locked()
                if answers[n] is None:
                    break  # a printer silent on one query is silent on all: don't wait four times
            status = printer_status.interpret(answers)
        except (OSError, serial.SerialException, ConnectionError) as exc:
            self._drop_connection_locked(exc)
            return self.status
        self._set_status(status.state, status.reason)
        return status

    def _read_status_byte_locked(self) -> int | None:
        device = getattr(self._printer, "device", None)
        if isinstance(device, socket.socket):
            device.settimeout(STATUS_ANSWER_TIMEOUT_S)
            try:
                data = device.recv(1)
            except socket.timeout:
                return None
            finally:
                device.settimeout(WRITE_TIMEOUT_S)
            if not data:
                raise ConnectionError("printer closed the connection")
            return data[0]
        if isinstance(device, serial.Serial):
            data = device.read(1)
            return data[0] if data else None
        if isinstance(self._printer, escpos_printers.Usb):
            data = self._printer._read()
            return data[0] if data else None
        return None  # File printers are write-only: status stays unknown

    def _drain_locked(self) -> None:
        """Discard late answers to earlier queries so each answer matches its question."""
        device = getattr(self._printer, "device", None)
        if isinstance(device, socket.socket):
            device.setblocking(False)
            try:
                while True:
                    data = device.recv(64)
                    if not data:
                        raise ConnectionError("printer closed the connection")
            except BlockingIOError:
                pass
            finally:
                device.setblocking(True)
                device.settimeout(WRITE_TIMEOUT_S)
        elif isinstance(device, serial.Serial):
            device.reset_input_buffer()

    def _drop_connection_locked(self, exc: Exception) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            try:
                printer.close()
            except Exception:  # noqa: BLE001
                pass
        self._set_status(DeviceState.OFFLINE, "offline")


__all__ = ["ReceiptPrinter", "PrintOutcome", "build_escpos", "STATUS_UNKNOWN"]
