"""X12 syntax shared by the 270 writer and the 271 reader: delimiters, segments, values.

An interchange's delimiters are whatever its ISA says (element separator at offset 3, repetition
separator at 82, component separator at 104, segment terminator at 105); the agent writes `*`, `^`,
`:` and `~`. Text values are reduced to the X12 basic character set (accents dropped, delimiters
and other characters removed): payers match names without accents anyway.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


class X12Error(ValueError):
    """Text that is not a readable X12 interchange (the answer was garbage)."""


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    repetition: str = "^"
    component: str = ":"
    segment: str = "~"

    @classmethod
    def of(cls, text: str) -> "Delimiters":
        text = text.lstrip()
        if len(text) < 106 or not text.startswith("ISA"):
            raise X12Error("not an X12 interchange (no ISA header)")
        found = cls(element=text[3], repetition=text[82], component=text[104], segment=text[105])
        if len({found.element, found.repetition, found.component, found.segment}) != 4 or found.element.isalnum():
            raise X12Error("the ISA header's delimiters are not usable")
        return found


Segment = list[str]  # [segment id, element 1, element 2, ...]


def split_segments(text: str) -> tuple[Delimiters, list[Segment]]:
    delimiters = Delimiters.of(text)
    segments = []
    for raw in text.strip().split(delimiters.segment):
        raw = raw.strip("\r\n ")
        if raw:
            segments.append(raw.split(delimiters.element))
    return delimiters, segments


def element(segment: Segment, position: int) -> str:
    """Element `position` (1-based) of a segment, '' when absent."""
    return segment[position] if position < len(segment) else ""


def join_segment(values: list[str], delimiters: Delimiters = Delimiters()) -> str:
    """One segment; trailing empty elements are dropped, as X12 requires."""
    while values and values[-1] == "":
        values = values[:-1]
    return delimiters.element.join(values) + delimiters.segment


_NOT_BASIC = re.compile(r"[^A-Z0-9 !&'()+,\-./;?=%@\[\]_{}\\|<>#$\"]")


def text_value(value: str, max_length: int) -> str:
    """Upper case, accents removed, only the basic character set, collapsed spaces, cut to length."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", value) if not unicodedata.combining(ch))
    cleaned = _NOT_BASIC.sub("", plain.upper())
    return " ".join(cleaned.split())[:max_length].strip()


def id_value(value: str, max_length: int) -> str:
    """An identifier: letters and digits only (member ids, payer ids, NPIs), upper case."""
    return re.sub(r"[^A-Z0-9]", "", value.upper())[:max_length]
