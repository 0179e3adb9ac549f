"""How each language writes dates, times, numbers and names, and what it calls itself.

Formats come from CLDR through Babel, so "14 March 1952", "14 mars 1952" and "1952年3月14日" need no
table of our own. Language codes are the site's BCP 47 tags ("zh-Hant"); Babel spells them with `_`.

    format_date(dt.date(1952, 3, 14), "fr")       # "14 mars 1952"
    display_name("Wei", "Zhang", "zh-Hans")        # "Zhang Wei"
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Literal

import babel
from babel import dates, numbers

ENGLISH = "en"

# Each language's own name, as its speakers write it on a language picker (CLDR's, tidied: capital
# letters where the language capitalises names of languages, no spaces inside the CJK brackets).
ENDONYMS = {
    "en": "English",
    "es": "Español",
    "zh-Hans": "中文(简体)",
    "zh-Hant": "中文(繁體)",
    "vi": "Tiếng Việt",
    "ko": "한국어",
    "tl": "Tagalog",
    "ru": "Русский",
    "ar": "العربية",
    "ht": "Kreyòl ayisyen",
    "fr": "Français",
    "pt": "Português",
    "de": "Deutsch",
}

# Languages whose speakers write the family name first; CJK names are written without a space.
FAMILY_FIRST = {"zh", "ko", "vi", "ja", "hu"}
_NO_SPACE_SCRIPTS = {"zh", "ko", "ja"}

# CLDR has no month names for Haitian Creole yet (it prints "1952 M03 14"): the Académie du Créole
# Haïtien's spelling, day-month-year as in French.
_OWN_MONTHS = {
    "ht": ("janvye", "fevriye", "mas", "avril", "me", "jen", "jiyè", "out", "septanm", "oktòb", "novanm", "desanm"),
}


@functools.lru_cache(maxsize=64)
def babel_locale(language: str) -> babel.Locale:
    """The CLDR locale for a site language tag; English for a tag CLDR does not know."""
    try:
        return babel.Locale.parse(language, sep="-")
    except (babel.UnknownLocaleError, ValueError):
        return babel.Locale.parse(ENGLISH)


def base_language(language: str) -> str:
    return language.split("-", 1)[0]


def direction(language: str) -> Literal["ltr", "rtl"]:
    return "rtl" if babel_locale(language).character_order == "right-to-left" else "ltr"


def endonym(language: str) -> str:
    return ENDONYMS.get(language) or babel_locale(language).get_display_name(babel_locale(language)) or language


def format_date(value: dt.date, language: str, style: Literal["long", "medium", "short"] = "long") -> str:
    """A patient-facing date: 'March 14, 1952', '14. März 1952', '1952年3月14日', '14 mas 1952'."""
    months = _OWN_MONTHS.get(base_language(language))
    if months:
        return f"{value.day} {months[value.month - 1]} {value.year}" if style != "short" else value.strftime("%d/%m/%Y")
    return _plain(dates.format_date(value, format=style, locale=babel_locale(language)))


def month_name(month: int, language: str) -> str:
    """The month named on its own (Russian "март", not the "марта" of a full date), for a half-typed date."""
    months = _OWN_MONTHS.get(base_language(language))
    if months:
        return months[month - 1]
    return str(dates.get_month_names("wide", context="stand-alone", locale=babel_locale(language))[month])


def format_time(value: dt.time | dt.datetime, language: str) -> str:
    """Hours and minutes as the locale's clock shows them: '2:05 PM', '14:05', '下午2:05'."""
    if isinstance(value, dt.datetime):
        value = value.time()
    return _plain(dates.format_time(value, format="short", locale=babel_locale(language)))


def format_number(value: int | float, language: str, decimals: int = 0) -> str:
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return _plain(numbers.format_decimal(value, format=pattern, locale=babel_locale(language)))


def display_name(given: str, family: str, language: str) -> str:
    """A patient's name in the order the language writes names ('Nguyễn An' in Vietnamese)."""
    given, family = given.strip(), family.strip()
    if not given or not family:
        return given or family
    lang = base_language(language)
    if lang not in FAMILY_FIRST:
        return f"{given} {family}"
    if lang in _NO_SPACE_SCRIPTS and not (given + family).isascii():
        return f"{family}{given}"
    return f"{family} {given}"


def closest(tag: str, offered: list[str] | tuple[str, ...]) -> str | None:
    """The offered language that best serves someone whose record says `tag` ("zh-TW" -> "zh-Hant",
    "pt-BR" -> "pt", "fil" -> "tl"), or None."""
    if not tag:
        return None
    if tag in offered:
        return tag
    try:
        wanted = babel.Locale.parse(tag, sep="-")
    except (babel.UnknownLocaleError, ValueError):
        return None
    candidates = [lang for lang in offered if babel_locale(lang).language == wanted.language]
    if not candidates and wanted.language == "fil":
        candidates = [lang for lang in offered if lang == "tl"]
    if len(candidates) > 1 and wanted.script:
        candidates = [lang for lang in candidates if babel_locale(lang).script == wanted.script] or candidates
    elif len(candidates) > 1 and wanted.language == "zh":
        traditional = wanted.territory in {"TW", "HK", "MO"}
        candidates = [lang for lang in candidates if (babel_locale(lang).script == "Hant") == traditional] or candidates
    return candidates[0] if candidates else None


def _plain(text: str) -> str:
    # CLDR puts narrow no-break spaces before AM/PM; not every kiosk or printer font has the glyph.
    return text.replace("\u202f", " ").replace("\u00a0", " ")
