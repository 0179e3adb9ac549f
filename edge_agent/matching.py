"""Matching a patient's typed or scanned identity against a scheduled appointment.

Birth dates must be equal. Names are compared after normalisation (lobby_core.comparison.normalise): case, accents, hyphens,
apostrophes and spacing do not matter ("GARCÍA-LÓPEZ" == "garcia lopez" == "GarciaLopez"). A family
name matches when one side's words are the leading words of the other's (compound surnames: "Garcia"
finds "García López"). A given name matches when it is empty (surname + birth date only), an initial
("M" or "M."), or equal to the scheduled given name or its first word ("Maria" finds "María José").

A verified reminder QR names one appointment; with it, the birth date alone identifies the patient, and
only when it equals that appointment's patient's (the reminder alone identifies nobody).
"""

from __future__ import annotations

import datetime as dt
import functools

from lobby_core.comparison import name_words as name_words, normalise as normalise  # one name normalisation, re-exported
from lobby_core.contract import CoverageInfo, Demographics, OnFileHints

from .keys import SiteKey


def reminder_matches(birth_date: dt.date, *, reminded_appointment_id: str, appointment_id: str,
                     scheduled_birth_date: dt.date) -> bool:  # fmt: skip
    return appointment_id == reminded_appointment_id and birth_date == scheduled_birth_date


def family_matches(typed: str, scheduled: str) -> bool:
    typed_words, scheduled_words = name_words(typed), name_words(scheduled)
    if not typed_words or not scheduled_words:
        return False
    if "".join(typed_words) == "".join(scheduled_words):
        return True
    shorter, longer = sorted((typed_words, scheduled_words), key=len)
    return longer[: len(shorter)] == shorter


def given_matches(typed: str, scheduled: str) -> bool:
    typed_words, scheduled_words = name_words(typed), name_words(scheduled)
    if not typed_words:
        return True
    if not scheduled_words:
        return False
    if len(typed_words) == 1 and len(typed_words[0]) == 1:
        return scheduled_words[0].startswith(typed_words[0])
    if "".join(typed_words) == "".join(scheduled_words):
        return True
    return typed_words[0] == scheduled_words[0]


def identity_matches(family: str, given: str, birth_date: dt.date, *, scheduled_family: str,
                     scheduled_given: str, scheduled_birth_date: dt.date) -> bool:  # fmt: skip
    return (
        birth_date == scheduled_birth_date
        and family_matches(family, scheduled_family)
        and given_matches(given, scheduled_given)
    )


@functools.lru_cache(maxsize=4096)  # the same scheduled patients are keyed again and again
def patient_key(key: SiteKey, family: str, given: str, birth_date: dt.date) -> str:
    """The pseudonym that stands for a patient in the store (outbox order, consents already signed).

    Built from the normalised family name, the first given name and the birth date. Use the
    identity on file (the scheduled appointment's) when there is one, so that the same patient gets
    the same key whatever they typed.
    """
    given_words = name_words(given)
    return key.pseudonym("patient", normalise(family), given_words[0] if given_words else "", birth_date.isoformat())


def display_name(family: str, given: str) -> str:
    """'María José', 'García López' -> 'María G.' (for "Is this you?"; never the full name)."""
    first = given.split()[0] if given.split() else ""
    initial = family.strip()[:1].upper()
    return f"{first} {initial}.".strip() if initial else first


def _last_digits(text: str, count: int) -> str:
    return "".join(ch for ch in text if ch.isdigit())[-count:]


def on_file_hints(demographics: Demographics | None, coverage: CoverageInfo | None) -> OnFileHints:
    """The endings of what is on file, for "Is this still right?" on the kiosk: the last two digits of
    the street line ("12 Elm St" -> "12") and of the phone, the last three characters of the member id
    (only when it has at least six, so it is never most of it), and the payer's name. Never the street,
    phone, member id or birth date themselves: a lookup needs only a surname and a birth date."""
    address = demographics.address if demographics else None
    member_id = "".join(ch for ch in (coverage.member_id if coverage else "") if ch.isalnum())
    return OnFileHints(
        street_ending=_last_digits(address.street, 2) if address else "",
        phone_ending=_last_digits(demographics.phone, 2) if demographics and len(_last_digits(demographics.phone, 6)) == 6 else "",
        member_id_ending=member_id[-3:] if len(member_id) >= 6 else "",
        payer=coverage.payor if coverage else "",
    )
