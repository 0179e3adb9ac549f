"""US insurance-card fields from OCR lines, each with a confidence; nothing is guessed.

A value is taken only where its label is printed (or, for the payer and the subscriber, where the
layout puts them) and only if it has the shape the field has on every US card (an RxBIN is six
digits, a member id has a digit, ...). Its confidence is Tesseract's lowest word confidence in the
value; under `REVIEW_BELOW`, or a label whose value did not have the shape, the field is marked for
the desk. A value is never corrected (no O->0, no filling in): a wrong digit the patient does not see
would be worse than a field the desk types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .ocr import Line, Word

REVIEW_BELOW = 80.0
REQUIRED = ("payer_name", "member_id")
ID_FIELDS = ("member_id", "group_number")  # printed ids: read again closer (reading.py)

FIELD_NAMES = ("payer_name", "member_id", "group_number", "plan", "subscriber_name", "rx_bin", "rx_pcn",
               "rx_group", "copay_pcp", "copay_specialist", "copay_er", "payer_phone")

_NOT_LETTER = r"(?<![A-Za-z])"
_SEP = r"(?:\s*[:#]\s*|\s+)"


def _spaced(word: str) -> str:
    """A printed label word as Tesseract may split it at a wide glyph gap ("Identi fication")."""
    return r"\s?".join(re.escape(char) for char in word)


# "ID" as Tesseract misreads it on these cards ("Ip", "| D", "lD"): a label, so tolerance costs no value a digit
_ID = r"[i1l|!]\s?[dp]"
_MEMBER, _SUBSCRIBER, _IDENTIFICATION, _GROUP = (_spaced(word) for word in ("member", "subscriber", "identification", "group"))
# what a printed id's glyphs come out as when one is misread ("S$G85...", "...517]"): such a value is
# captured only to be read again closer, in the id alphabet (reading.py), and is never kept as it is
ID_MISREAD = "$§[]|()"


def garbled(value: str) -> bool:
    """An id as the page read saw it, with a glyph no id has: only to be read again closer."""
    return any(char in ID_MISREAD for char in value)


_ID_GLYPHS = r"[A-Z0-9$§\[\]|()-]"
_ID_TOKEN = _ID_GLYPHS + r"*\d" + _ID_GLYPHS + "*"
# a member id printed in groups ("XYZ 1234 5678") or split by Tesseract at a wide glyph gap ("G RP3266"): one id
_GROUPED_ID = rf"((?:[A-Z]{{1,3}} )?{_ID_TOKEN}(?: {_ID_TOKEN})*)"
LABELLED: dict[str, tuple[str, str]] = {
    # field: (label regex, value regex); a label at a word start, a value right behind it
    "member_id": (rf"(?:{_MEMBER}\s*{_ID}\s*(?:no\.?|#)?|{_SUBSCRIBER}\s*{_ID}|{_IDENTIFICATION}\s*(?:no\.?|number)"
                  rf"|{_ID}\s*(?:no\.?|#)?)", _GROUPED_ID),
    "group_number": (rf"(?:{_GROUP}\s*(?:number|no\.?|#)?|grp\s*#?)", _GROUPED_ID),
    "rx_bin": (r"(?:rx\s*bin|bin)", r"(\d{6})"),
    "rx_pcn": (r"(?:rx\s*pcn|pcn)", r"([A-Z0-9]{1,10})"),
    "rx_group": (r"(?:rx\s*gr(?:ou)?p)", r"([A-Z0-9]{1,15})"),
    "copay_pcp": (r"(?:pcp|office\s*visit|primary\s*care)", r"(\$\d{1,4}(?:\.\d\d)?)"),
    "copay_specialist": (r"(?:specialist|spec)", r"(\$\d{1,4}(?:\.\d\d)?)"),
    "copay_er": (r"(?:er|emergency\s*room|emergency)", r"(\$\d{1,4}(?:\.\d\d)?)"),
    "plan": (r"(?:plan)", r"([A-Za-z0-9][A-Za-z0-9 ]*?)(?=\s+(?:rx|bin|pcn|pcp|specialist)\b|$)"),
    "subscriber_name": (r"(?:member|subscriber|name)", r"([A-Z][A-Z'.-]+(?:\s+[A-Z][A-Z'.-]+){1,3})\s*$"),
    "payer_phone": (r"(?:member\s*services|customer\s*service|questions\?\s*call|call)",
                    r"((?:1-)?(?:\(\d{3}\)\s?|\d{3}-)\d{3}-\d{4})"),
}
_NAME_LINE = re.compile(r"^[A-Z][A-Z'.-]+(?:\s+[A-Z][A-Z'.-]+){1,3}$")
_PAYER_WORD = re.compile(r"^[A-Za-z][A-Za-z&'.-]+$")


@dataclass(frozen=True)
class FieldReading:
    value: str | None  # None: not on the card, or not readable (then needs_review if a label was seen)
    confidence: float  # 0..100; 0 when nothing was read
    needs_review: bool  # the desk checks this field; the patient sees it marked
    words: tuple[Word, ...] = field(default=(), compare=False, repr=False)  # where on the side it was read

    @classmethod
    def read(cls, value: str, words: Sequence[Word]) -> "FieldReading":
        confidence = min((word.confidence for word in words), default=0.0)
        return cls(value, confidence, confidence < REVIEW_BELOW, tuple(words))


MISSING = FieldReading(None, 0.0, False)
UNREADABLE = FieldReading(None, 0.0, True)


def _value_words(line: Line, start: int, end: int) -> list[Word]:
    """The words of `line` whose characters overlap text[start:end]."""
    words, position = [], 0
    for word in line.words:
        word_start, word_end = position, position + len(word.text)
        if word_start < end and word_end > start:
            words.append(word)
        position = word_end + 1
    return words


def _labelled(name: str, lines: Iterable[Line]) -> FieldReading:
    label, value = LABELLED[name]
    label_only = re.compile(_NOT_LETTER + label + r"(?![A-Za-z])", re.IGNORECASE)
    pattern = re.compile(_NOT_LETTER + "(?i:" + label + ")" + _SEP + value)
    seen_label = False
    for line in lines:
        text = line.text
        for match in pattern.finditer(text):
            if name == "group_number" and re.search(r"rx\s*$", text[: match.start()], re.IGNORECASE):
                continue  # "RxGrp" is the pharmacy group
            if name == "payer_phone" and re.search(r"pharmacy", text[: match.start()], re.IGNORECASE):
                continue
            value, words = match.group(1).strip(), _value_words(line, *match.span(1))
            if name in ID_FIELDS:
                value = value.replace(" ", "")
                if garbled(value):  # for the closer read only, never as it is
                    return FieldReading(value, 0.0, True, tuple(words))
            return FieldReading.read(value, words)
        if label_only.search(text):
            seen_label = True
    return UNREADABLE if seen_label else MISSING


def _payer_name(front: Sequence[Line], back: Sequence[Line]) -> FieldReading:
    """The header's capitalised words (the logo's stray glyphs dropped), else the back's claims address."""
    for line in front[:1]:
        words = [word for word in line.words if _PAYER_WORD.match(word.text) and word.text[0].isupper()]
        if words and ":" not in line.text and not _NAME_LINE.match(" ".join(word.text for word in words)):
            return FieldReading.read(" ".join(word.text for word in words), words)
    for line in back:
        match = re.search(r"claims\s+to\s+([A-Z][A-Za-z&' ]+?),", line.text)
        if match:
            return FieldReading.read(match.group(1), _value_words(line, *match.span(1)))
    return MISSING


def _subscriber_from_layout(front: Sequence[Line]) -> FieldReading:
    """A line of two to four capitalised words, the name, as cards without a 'Member' label print it."""
    for line in front[1:5]:
        if _NAME_LINE.match(line.text):
            return FieldReading.read(line.text, line.words)
    return MISSING


def extract(front: Sequence[Line], back: Sequence[Line]) -> dict[str, FieldReading]:
    both = list(front) + list(back)
    readings = {name: _labelled(name, both) for name in LABELLED}
    readings["payer_name"] = _payer_name(front, back)
    if readings["subscriber_name"].value is None:
        readings["subscriber_name"] = _subscriber_from_layout(front)
    for name in REQUIRED:  # every card prints these: not found is for the desk, not "not on the card"
        if readings[name].value is None:
            readings[name] = UNREADABLE
    return {name: readings[name] for name in FIELD_NAMES}
