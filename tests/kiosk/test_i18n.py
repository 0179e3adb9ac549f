"""Catalogues: complete in every language, formats per locale, a language is a file."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from kiosk.i18n import Catalogues
from lobby_core import catalogue

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues.load(DEFAULT_TRANSLATIONS_DIR)


def test_english_and_spanish_are_complete_and_use_the_same_placeholders(catalogues):
    assert {"en", "es"} <= set(catalogues.languages)
    assert catalogues.keys("en") == catalogues.keys("es")
    for key in catalogues.keys("en"):
        placeholders = lambda lang: set(re.findall(r"{(\w+)}", catalogues.text(lang, key)))
        assert placeholders("en") == placeholders("es"), key


def test_every_key_the_code_and_layouts_use_exists(catalogues):
    used = set()
    for path in list(KIOSK.glob("*.py")) + list(KIOSK.glob("screens/*")):
        if path.is_file():
            used |= set(re.findall(r"""["']((?:common|help|idle|attract|identify|manual|looking_up|confirm|see_desk|review|card|forms|submitting|offline|done|staff|state|app)\.(?!kv\b|py\b|png\b)[a-z_]+)["']""", path.read_text()))
    assert used, "expected the kiosk to use catalogue keys"
    assert sorted(used - catalogues.keys("en")) == []


def test_locale_formats(catalogues):
    born = dt.date(1956, 3, 14)
    assert catalogues.date("en", born) == "March 14, 1956"
    assert catalogues.date("es", born) == "14 de marzo de 1956"
    assert catalogues.time("en", dt.time(14, 5)) == "2:05 PM"
    assert catalogues.time("es", dt.time(14, 5)) == "14:05"
    assert catalogues.number("en", 1234.5, 1) == "1,234.5"
    assert catalogues.number("es", 1234.5, 1) == "1.234,5"
    assert catalogues.fill_date_pattern("es", "1403") == "14/03/AAAA"
    assert catalogues.locale("es").date_order == "DMY"


def test_a_key_english_lacks_shows_as_itself_and_is_recorded_not_blank(catalogues, caplog):
    assert catalogues.text("es", "no.such_key") == "no.such_key"
    assert catalogues.text("en", "no.such_key") == "no.such_key"
    assert ("kiosk", "no.such_key") in catalogue.missing_keys()
    assert [r.key for r in caplog.records if r.name == "lobby_core.catalogue"] == ["no.such_key"]  # logged once
    catalogue._missing.discard(("kiosk", "no.such_key"))


def test_adding_a_language_is_a_file(tmp_path):
    for path in DEFAULT_TRANSLATIONS_DIR.glob("kiosk.*.json"):
        shutil.copy(path, tmp_path)
    french = json.loads((DEFAULT_TRANSLATIONS_DIR / "kiosk.en.json").read_text())
    french["_locale"].update(name="Français", date_order="DMY", clock_hours=24)
    french["attract.touch"] = "Touchez ici pour vous enregistrer"
    (tmp_path / "kiosk.fr.json").write_text(json.dumps(french))
    catalogues = Catalogues.load(tmp_path)
    assert "fr" in catalogues.languages
    assert catalogues.text("fr", "attract.touch") == "Touchez ici pour vous enregistrer"
    assert catalogues.locale("fr").name == "Français"
