"""The check-in ticket: what it says, and how it becomes ESC/POS on a python-escpos printer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from escpos.escpos import Escpos

from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

from . import catalogue

DisplayNamePolicy = Literal["none", "initials", "first_name"]


@dataclass(frozen=True)
class Ticket:
    clinic_name: str
    number: str
    qr_payload: str  # what the patient's phone opens to follow the queue: no PHI
    issued_at: dt.datetime
    language: str = "en"
    display_name: str = ""  # already reduced by `display_name_for`; empty prints no name

    def __repr__(self) -> str:
        return f"Ticket(number={self.number!r}, language={self.language!r})"


def display_name_for(policy: DisplayNamePolicy, given_names: str, family_name: str) -> str:
    """The only patient name a ticket may carry, per config.kiosk.display_name."""
    if policy == "first_name":
        return given_names.split()[0] if given_names.split() else ""
    if policy == "initials":
        letters = [part[0].upper() for part in (given_names.split()[:1] + family_name.split()[:1]) if part]
        return " ".join(f"{letter}." for letter in letters)
    return ""


def render(ticket: Ticket, printer: Escpos, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> None:
    """Write the ticket to `printer` (any python-escpos printer: Network, Serial, Usb, File, Dummy)."""

    def label(key: str) -> str:
        return catalogue.text(key, ticket.language, translations_dir)

    printer.set(align="center", bold=True, normal_textsize=True)
    printer.text(f"{ticket.clinic_name}\n")
    printer.set(align="center", bold=False, normal_textsize=True)
    printer.text(f"{label('ticket.your_number')}\n")
    printer.set(align="center", bold=True, custom_size=True, width=4, height=4)
    printer.text(f"{ticket.number}\n")
    printer.set(align="center", bold=False, normal_textsize=True)
    if ticket.display_name:
        printer.text(f"{ticket.display_name}\n")
    printer.text(f"{ticket.issued_at:%Y-%m-%d %H:%M}\n")
    printer.text(f"{label('ticket.please_wait')}\n")
    printer.qr(ticket.qr_payload, size=6, native=True, center=False)
    printer.text(f"{label('ticket.scan_to_follow')}\n")
    printer.cut()
