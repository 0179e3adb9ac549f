"""Translation catalogues: every word the kiosk shows, and how each language writes dates and numbers.

One JSON file per language in the translations folder (`kiosk.<code>.json`, read by lobby_core.catalogue
with its one fallback rule: language, site default language, English); adding a language is adding a file. The `_locale` entry describes the language's formats; every other entry is a message,
with `{name}` placeholders filled by `text(...)`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from lobby_core import catalogue
from lobby_core.catalogue import ENGLISH


@dataclass(frozen=True)
class Locale:
    name: str  # the language's own name for itself: "English", "Español"
    date_order: str  # "MDY", "DMY" or "YMD": how people type a date
    date_pattern: str  # placeholders {day} {month} {month_name} {year}
    clock_hours: int  # 12 or 24
    months: tuple[str, ...]
    decimal_mark: str
    thousands_mark: str
    speech_voice: str  # espeak-ng voice


class Catalogues:
    def __init__(self, messages: catalogue.Catalogue):
        self._catalogue = messages
        self._locales = {lang: _locale(messages.metadata(lang, "locale")) for lang in messages.languages}

    @classmethod
    def load(cls, folder: Path, default_language: str = ENGLISH) -> "Catalogues":
        return cls(catalogue.read(folder, "kiosk", default_language))

    @property
    def languages(self) -> list[str]:
        return self._catalogue.languages

    def keys(self, language: str) -> set[str]:
        return self._catalogue.keys(language)

    def locale(self, language: str) -> Locale:
        return self._locales.get(language) or self._locales.get(self._catalogue.default_language) or self._locales[ENGLISH]

    def text(self, language: str, key: str, **values: object) -> str:
        return self._catalogue.text(language, key, **values)

    def date(self, language: str, value: dt.date) -> str:
        locale = self.locale(language)
        return locale.date_pattern.format(
            day=value.day, month=f"{value.month:02d}", month_name=locale.months[value.month - 1], year=value.year
        )

    def time(self, language: str, value: dt.time | dt.datetime) -> str:
        if self.locale(language).clock_hours == 24:
            return f"{value.hour:02d}:{value.minute:02d}"
        suffix = "AM" if value.hour < 12 else "PM"
        return f"{(value.hour - 1) % 12 + 1}:{value.minute:02d} {suffix}"

    def number(self, language: str, value: int | float, decimals: int = 0) -> str:
        locale = self.locale(language)
        whole, _, fraction = f"{value:,.{decimals}f}".partition(".")
        whole = whole.replace(",", locale.thousands_mark)
        return f"{whole}{locale.decimal_mark}{fraction}" if fraction else whole

    def date_entry_pattern(self, language: str) -> str:
        """How the date pad shows what is typed so far, e.g. 'MM/DD/YYYY' filled from the left."""
        return self.text(language, "manual.pattern")

    def fill_date_pattern(self, language: str, digits: str) -> str:
        pattern, out, remaining = self.date_entry_pattern(language), [], list(digits)
        for char in pattern:
            if char.isalpha():
                out.append(remaining.pop(0) if remaining else char)
            else:
                out.append(char)
        return "".join(out)


def _locale(raw: dict) -> Locale:
    return Locale(**{**raw, "months": tuple(raw["months"])})
