"""Signed appointment-reminder QR codes, shared by the agent (signs) and the kiosk (verifies).

    CHK1.<base64url JSON {"site", "appt", "exp"}>.<base64url Ed25519 signature of the first two parts>

Only the appointment reference travels, never PHI. A forged, altered, foreign-site or expired code is
refused with `ReminderError`, whose `key` is a message key the kiosk translates.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "CHK1"
MAX_LENGTH = 512


class ReminderError(ValueError):
    def __init__(self, key: str, detail: str):
        super().__init__(detail)
        self.key = key


@dataclass(frozen=True)
class Reminder:
    site: str
    appointment: str
    expires: dt.datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    """The value for config `kiosk.reminder_public_key`."""
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def looks_like_reminder(text: str) -> bool:
    return text.strip().startswith(PREFIX + ".")


def sign(private_key: Ed25519PrivateKey, site: str, appointment: str, expires: dt.datetime) -> str:
    if expires.tzinfo is None:
        raise ValueError("expires must be timezone-aware")
    payload = json.dumps(
        {"site": site, "appt": appointment, "exp": int(expires.timestamp())}, separators=(",", ":"), sort_keys=True
    ).encode()
    signed_part = f"{PREFIX}.{_b64encode(payload)}"
    return f"{signed_part}.{_b64encode(private_key.sign(signed_part.encode('ascii')))}"


def verify(public_key_b64: str, text: str, site: str | None = None, now: dt.datetime | None = None) -> Reminder:
    """The reminder in `text`, or ReminderError (key reminder.invalid / reminder.expired / reminder.other_site)."""
    text = text.strip()
    parts = text.split(".")
    if len(text) > MAX_LENGTH or len(parts) != 3 or parts[0] != PREFIX:
        raise ReminderError("reminder.invalid", "not a reminder code")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ReminderError("reminder.invalid", "no valid reminder public key configured") from exc
    try:
        public_key.verify(_b64decode(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise ReminderError("reminder.invalid", "signature does not match: forged or altered") from exc
    try:
        body = json.loads(_b64decode(parts[1]))
        reminder = Reminder(
            site=str(body["site"]),
            appointment=str(body["appt"]),
            expires=dt.datetime.fromtimestamp(int(body["exp"]), dt.timezone.utc),
        )
    except (ValueError, KeyError, TypeError, binascii.Error, OverflowError, OSError) as exc:
        raise ReminderError("reminder.invalid", "signed payload is malformed") from exc
    if reminder.expires < (now or dt.datetime.now(dt.timezone.utc)):
        raise ReminderError("reminder.expired", "reminder code has expired")
    if site is not None and reminder.site != site:
        raise ReminderError("reminder.other_site", "reminder code is for another site")
    return reminder
