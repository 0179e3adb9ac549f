"""When two readings of a patient's details count as the same: one rule per kind.

The agent uses these to flag an arrival for the desk (edge_agent.checkin.flags_for): the kiosk sends
what it read from the ID and the card and never sees the file (only its endings, for "Is this still
right?"), so it compares nothing itself. Name normalisation is shared by both apps.

- Names (and any free text) compare after `normalise`: case, accents, hyphens, apostrophes, dots and
  spacing do not matter ("GARCÍA-LÓPEZ" == "garcia lopez"). Matching a typed name against a scheduled
  one is the agent's (edge_agent.matching); the kiosk never matches.
- Address: the same when the street and the first five letters/digits of the postcode agree. City and
  state follow from the postcode and are spelled in too many ways ("St. Louis" / "Saint Louis") to
  compare; a ZIP+4 suffix ("62701-1234" from a licence, "62701" on file) is not a move.
- Phone: digits only ("(555) 010-1234" == "555 0101234"); an empty reading says nothing.
- Coverage: the same payor (normalised) and member id (normalised); no coverage on file and a card
  read is a change.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .contract import Address, CoverageInfo, Demographics

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’`.,]+")
_TRANSLITERATE = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ł": "l", "ı": "i", "þ": "th"})
POSTCODE_PREFIX = 5


@functools.lru_cache(maxsize=4096)
def name_words(name: str) -> tuple[str, ...]:
    """'  Núñez-O'Brien ' -> ('nunez', 'o', 'brien')"""
    folded = name.casefold().translate(_TRANSLITERATE)
    decomposed = unicodedata.normalize("NFKD", folded)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return tuple(word for word in _SEPARATORS.split(plain) if word)


def normalise(name: str) -> str:
    return " ".join(name_words(name))


def _postcode(value: str) -> str:
    return "".join(name_words(value))[:POSTCODE_PREFIX]


def same_address(a: Address | None, b: Address | None) -> bool:
    if a is None or b is None:
        return a is b
    return (normalise(a.street), _postcode(a.postal_code)) == (normalise(b.street), _postcode(b.postal_code))


def phone_digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def phone_changed(submitted: str, on_file: str) -> bool:
    new = phone_digits(submitted)
    return bool(new) and new != phone_digits(on_file)


def demographics_changed(submitted: Demographics | None, on_file: Demographics | None) -> bool:
    """What the patient's document or answer says differs from the file (None submitted: nothing said)."""
    if submitted is None:
        return False
    on_file = on_file or Demographics()
    address_changed = submitted.address is not None and not same_address(submitted.address, on_file.address)
    return address_changed or phone_changed(submitted.phone, on_file.phone)


def coverage_changed(submitted: CoverageInfo | None, on_file: CoverageInfo | None) -> bool:
    if submitted is None:
        return False
    if on_file is None:
        return True
    return (normalise(submitted.member_id), normalise(submitted.payor)) != (
        normalise(on_file.member_id),
        normalise(on_file.payor),
    )
