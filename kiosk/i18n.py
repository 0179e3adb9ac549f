"""Translation catalogues: every word the kiosk shows, and how each language writes dates and numbers.

One JSON file per language in the translations folder (`kiosk.<code>.json`); adding a language is
adding a file. The `_locale` entry describes the language's formats; every other entry is a message,
with `{name}` placeholders filled by `text(...)`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_PATTERN = re.compile(r"^kiosk\.([a-z]{2})\.json$")


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


class MissingTranslation(KeyError):
    pass


class Catalogues:
    def __init__(self, messages: dict[str, dict[str, str]], locales: dict[str, Locale], fallback: str = "en"):
        self._messages = messages
        self._locales = locales
        self.fallback = fallback if fallback in messages else next(iter(messages))

    @classmethod
    def load(cls, folder: Path) -> "Catalogues":
        messages, locales = {}, {}
        for path in sorted(Path(folder).iterdir()):
            match = CATALOGUE_PATTERN.match(path.name)
            if not match:
                continue
            raw = json.loads(path.read_text(encoding="utf-8"))
            locale = raw.pop("_locale")
            locale["months"] = tuple(locale["months"])
            locales[match.group(1)] = Locale(**locale)
            messages[match.group(1)] = raw
        if not messages:
            raise FileNotFoundError(f"no kiosk.<language>.json catalogue in {folder}")
        return cls(messages, locales)

    @property
    def languages(self) -> list[str]:
        return list(self._messages)

    def keys(self, language: str) -> set[str]:
        return set(self._messages[language])

    def locale(self, language: str) -> Locale:
        return self._locales.get(language) or self._locales[self.fallback]

    def text(self, language: str, key: str, **values: object) -> str:
        template = self._messages.get(language, {}).get(key)
        if template is None:
            template = self._messages[self.fallback].get(key)
        if template is None:
            raise MissingTranslation(key)
        return template.format(**values) if values else template

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
