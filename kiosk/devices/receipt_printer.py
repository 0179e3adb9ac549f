"""ESC/POS receipt printer: python-escpos renders the ticket, a transport carries it, DLE EOT tells status."""

from __future__ import annotations

from pathlib import Path

from escpos.printer import Dummy

from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

from . import printer_status, ticket as ticket_layout
from .base import STATUS_UNKNOWN, DeviceStatus
from .polled import PolledDevice, PrintOutcome
from .transports import Transport

STATUS_ANSWER_TIMEOUT_S = 0.4


def render_ticket(ticket: ticket_layout.Ticket, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> bytes:
    """The ESC/POS bytes of one ticket, rendered by python-escpos into memory."""
    dummy = Dummy()
    ticket_layout.render(ticket, dummy, translations_dir)
    return dummy.output


class ReceiptPrinter(PolledDevice):
    kind = "receipt_printer"
    accepted_transports = ("tcp", "serial", "usb", "file")

    def __init__(self, config, on_event, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR):
        super().__init__(config, on_event)
        self._translations_dir = translations_dir

    def print_ticket(self, ticket: ticket_layout.Ticket) -> PrintOutcome:
        """Print one ticket; refuse when the printer says it cannot, and check it did not run out mid-job."""
        return self._send_job(render_ticket(ticket, self._translations_dir), f"ticket {ticket.number}")

    def _query_status(self, transport: Transport) -> DeviceStatus:
        if not transport.answers:
            return STATUS_UNKNOWN  # a spool file or FIFO: nothing will ever answer
        answers: dict[int, int | None] = {}
        for n in printer_status.QUERIES:
            transport.write(printer_status.query(n))
            answer = transport.read(1, STATUS_ANSWER_TIMEOUT_S)
            answers[n] = answer[0] if answer else None
            if not answer:
                break  # a printer silent on one query is silent on all: don't wait four times
        return printer_status.interpret(answers)


__all__ = ["ReceiptPrinter", "PrintOutcome", "render_ticket"]
