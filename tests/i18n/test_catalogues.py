"""Every catalogue is complete in every shipped language: no missing or extra key, the same placeholders
as English, and no English left in place of a translation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lobby_core import catalogue, locale
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

LANGUAGES = ["en", "es", "zh-Hans", "zh-Hant", "vi", "ko", "tl", "ru", "ar", "ht", "fr", "pt", "de"]
FAMILIES = sorted(path.name.removesuffix(".en.json") for path in DEFAULT_TRANSLATIONS_DIR.glob("*.en.json"))
PLACEHOLDER = re.compile(r"{(\w+)}")

# Identical to English on purpose: loanwords the language uses as they are. A one-word message
# (a cognate like "Status", "Signature") needs no entry; anything longer does.
SAME_AS_ENGLISH = {
    ("kiosk", "app.window_title"): {"es", "pt"},  # "Check-in" is the word both use
    ("desk", "desk.title"): {"tl"},  # "Front desk" is what Filipino clinics say
    ("board", "board.call_line_no_room"): {"tl"},  # "{ticket} — front desk", the same loanword
    ("consent-pdf", "footer.page"): {"fr"},
}


def _read(family: str, language: str) -> dict[str, str]:
    path = DEFAULT_TRANSLATIONS_DIR / f"{family}.{language}.json"
    assert path.exists(), f"{path.name} is missing"
    return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("_")}


def test_the_families_are_the_known_ones():
    assert {"kiosk", "devices", "desk", "consent-pdf"} <= set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_complete_with_the_same_placeholders_and_translated(family: str, language: str):
    english, translated = _read(family, "en"), _read(family, language)
    assert sorted(set(english) - set(translated)) == [], "missing keys"
    assert sorted(set(translated) - set(english)) == [], "extra keys"
    for key, source in english.items():
        assert set(PLACEHOLDER.findall(translated[key])) == set(PLACEHOLDER.findall(source)), key
        assert translated[key].strip(), key
    untranslated = [
        key
        for key, source in english.items()
        if translated[key] == source
        and len(PLACEHOLDER.sub("", source).split()) > 1
        and language not in SAME_AS_ENGLISH.get((family, key), set())
    ]
    assert untranslated == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_kiosk_metadata_names_the_language_in_its_own_script(language: str):
    kiosk = catalogue.read(DEFAULT_TRANSLATIONS_DIR, "kiosk")
    assert kiosk.metadata(language, "locale")["name"] == locale.endonym(language)
    order = kiosk.metadata(language, "locale")["date_order"]
    pattern = kiosk.text(language, "manual.pattern")
    letters = [char for char in pattern if char.isalpha()]
    assert len(letters) == 8 and order in {"MDY", "DMY", "YMD"}
    # the date pad's pattern runs in the order people type: YMD starts with four year letters
    assert (pattern[:4].isalpha() and pattern[4] in "/.-") == (order == "YMD")


def test_allow_list_has_no_stale_entries():
    for (family, key), languages in SAME_AS_ENGLISH.items():
        english = _read(family, "en")[key]
        for language in languages:
            assert _read(family, language)[key] == english, (family, key, language)


def test_a_language_with_a_script_subtag_loads_by_its_tag():
    board = catalogue.read(DEFAULT_TRANSLATIONS_DIR, "board")
    assert {"zh-Hans", "zh-Hant"} <= set(board.languages)
    assert board.text("zh-Hant", "board.now_calling") == "現在叫號" != board.text("zh-Hans", "board.now_calling")
