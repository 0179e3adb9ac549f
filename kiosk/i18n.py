"""Translation catalogues: every word the kiosk shows, and how each language writes dates and numbers.

One JSON file per language in the translations folder (`kiosk.<code>.json`, read by lobby_core.catalogue
with its one fallback rule: language, site default language, English); adding a language is adding a file. The `_locale` entry describes the language's formats; every other entry is a message,
with `{name}` placeholders filled by `text(...)`. Dates, times and numbers follow the language's CLDR
locale (lobby_core.locale), so a catalogue holds words only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from lobby_core import catalogue, locale
from lobby_core.catalogue import ENGLISH


@dataclass(frozen=True)
class Locale:
    name: str  # the language's own name for itself: "English", "Español", "العربية"
    date_order: str  # "MDY", "DMY" or "YMD": how people type a date (matches `manual.pattern`)
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
        return locale.format_date(value, language)

    def month_name(self, language: str, month: int) -> str:
        return locale.month_name(month, language)

    def time(self, language: str, value: dt.time | dt.datetime) -> str:
        return locale.format_time(value, language)

    def number(self, language: str, value: int | float, decimals: int = 0) -> str:
        return locale.format_number(value, language, decimals)

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
    return Locale(name=raw["name"], date_order=raw["date_order"], speech_voice=raw["speech_voice"])
