"""What a scanned code means: a licence barcode becomes an Identity, a reminder QR an appointment hint.

A reminder carries no PHI, so it identifies nobody by itself (a found reminder must not open someone
else's appointment): the patient still types last name and birth date, and the agent gets the token.
"""

from __future__ import annotations

import datetime as dt

from lobby_core import reminder

from .devices import aamva
from .devices.identity import Identity
from .flow import ReminderScanned, ScanRefused

REMINDER_NOTICES = {
    "reminder.expired": "identify.reminder_expired",
    "reminder.other_site": "identify.reminder_other_site",
}


class ScanReader:
    def __init__(self, reminder_public_key: str = "", site_id: str | None = None):
        self._public_key = reminder_public_key
        self._site_id = site_id

    def __call__(self, text: str) -> Identity | ReminderScanned | ScanRefused:
        if reminder.looks_like_reminder(text):
            return self._reminder(text)
        identity = aamva.parse(text, dt.date.today()).identity
        if not identity.family_name or identity.birth_date is None:
            return ScanRefused("identify.unreadable")
        return identity

    def _reminder(self, text: str) -> ReminderScanned | ScanRefused:
        try:
            reminder.verify(self._public_key, text, site=self._site_id)
        except reminder.ReminderError as refused:
            return ScanRefused(REMINDER_NOTICES.get(refused.key, "identify.reminder_invalid"))
        return ReminderScanned(text.strip())
