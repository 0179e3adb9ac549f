"""What a scanned code is: a licence barcode (AAMVA), a signed appointment reminder, or neither."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from edge_agent import reminder as reminders

from . import aamva

NOT_RECOGNISED = "scan.not_recognised"


@dataclass(frozen=True)
class ScanReading:
    kind: Literal["licence", "reminder", "unknown"]
    licence: aamva.AamvaResult | None = None
    reminder: reminders.Reminder | None = None
    problem: str = ""  # message key for the patient when the code cannot be used

    def __repr__(self) -> str:
        return f"ScanReading(kind={self.kind!r}, problem={self.problem!r})"


def read_scan(text: str, reminder_public_key: str, site_id: str, now: dt.datetime | None = None) -> ScanReading:
    """Classify and read one `Scanned.text`. Licences are read even when expired (the desk decides)."""
    stripped = text.strip()
    if reminders.looks_like_reminder(stripped):
        try:
            return ScanReading("reminder", reminder=reminders.verify(reminder_public_key, stripped, site_id, now))
        except reminders.ReminderError as exc:
            return ScanReading("reminder", problem=exc.key)
    if stripped.startswith("@") or any(marker in stripped[:40] for marker in ("ANSI ", "AAMVA", "AMVA")):
        return ScanReading("licence", licence=aamva.parse(stripped))
    return ScanReading("unknown", problem=NOT_RECOGNISED)
