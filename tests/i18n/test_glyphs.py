"""No tofu: every character each language shows is in the font chosen for it (kiosk labels, the ticket
raster, the consent PDF), and the kiosk's own label class really draws glyphs under Xvfb."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops

from kiosk import fonts as kiosk_fonts

from kiosk.i18n import Catalogues
from lobby_core import catalogue, fonts, text_shaping
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

from .test_catalogues import LANGUAGES

DRIVER = Path(__file__).with_name("render_driver.py")


@functools.lru_cache(maxsize=None)
def cmap(path: Path, index: int) -> frozenset[int]:
    return frozenset(TTFont(str(path), fontNumber=index, lazy=True).getBestCmap())


def uncovered(text: str, face: fonts.Face) -> set[str]:
    drawn = "".join(text_shaping.shape_line(line) for line in text.splitlines())
    needed = {char for char in drawn if not char.isspace()}
    return {
        char
        for char in needed
        if ord(char) not in cmap(face.regular, face.index) or ord(char) not in cmap(face.bold, face.index)
    }


def messages(family: str, language: str) -> list[str]:
    family_catalogue = catalogue.read(DEFAULT_TRANSLATIONS_DIR, family)
    return [family_catalogue.text(language, key) for key in sorted(family_catalogue.keys("en"))]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_kiosk_font_has_every_character_of_every_kiosk_message(language: str):
    kiosk = Catalogues.load(DEFAULT_TRANSLATIONS_DIR)
    texts = messages("kiosk", language) + [kiosk.locale(code).name for code in LANGUAGES]
    gaps = {text: missing for text in texts if (missing := uncovered(text, kiosk_fonts.face_for(language, text)))}
    assert gaps == {}


def test_each_language_gets_its_own_script_face():
    assert kiosk_fonts.face_for("zh-Hant", "中文(繁體)").index == 3  # Traditional glyph forms
    assert kiosk_fonts.face_for("zh-Hans", "中文(简体)").index == 2
    assert kiosk_fonts.face_for("ko", "한국어").index == 1
    assert kiosk_fonts.face_for("en", "العربية") is fonts.ARABIC  # the picker's Arabic name, on an English screen
    assert kiosk_fonts.face_for("vi", "Tiếng Việt") is fonts.LATIN


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("renders")
    command = ["xvfb-run", "-a", "-s", "-screen 0 1000x500x24", sys.executable, str(DRIVER), str(out), *LANGUAGES]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert (out / "renders.json").exists(), finished.stderr[-3000:]
    return out, json.loads((out / "renders.json").read_text())


def _ink(coverage: Image.Image) -> int:
    return sum(coverage.histogram()[128:])


def _coverage(path: Path) -> Image.Image:
    """Where the label painted (its PNG is transparent around the glyphs)."""
    return Image.open(path).convert("RGBA").getchannel("A")


@pytest.mark.window
def test_the_kiosk_label_draws_glyphs_in_every_language(renders):
    out, results = renders
    assert {r["language"] for r in results} == set(LANGUAGES)
    for result in results:
        what = (result["language"], result["key"])
        face = kiosk_fonts.face_for(result["language"], result["logical"])
        assert result["face"] == face.name, what
        assert uncovered(result["logical"], face) == set(), what
        drawn, boxes = _coverage(out / result["png"]), _coverage(out / result["notdef_png"])
        assert _ink(drawn) > 200, what  # something was drawn
        assert _ink(boxes) > 50, what  # the same font does draw missing glyphs as boxes
        differing = _ink(ImageChops.difference(drawn, boxes))
        assert differing > 0.3 * _ink(drawn), what  # and the text is not those boxes


@pytest.mark.window
def test_arabic_is_joined_reordered_and_right_aligned(renders):
    _out, results = renders
    for result in results:
        rtl = result["language"] == "ar"
        assert result["halign"] == ("right" if rtl else "left"), result["language"]
        if rtl:
            assert result["drawn"] != result["logical"]
            assert any(0xFE70 <= ord(char) <= 0xFEFF for char in result["drawn"]), "presentation forms: letters joined"
