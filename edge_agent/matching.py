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
