"""The language picker with all twelve languages, in the real kiosk app under Xvfb: one bar button opens
a grid of large targets, each language in its own script and font; choosing Arabic shapes the screens."""

from __future__ import annotations

import re

import pytest

from lobby_core import locale
from tests.kiosk.conftest import agent  # noqa: F401 - the fixture
from tests.kiosk.test_window import Scenario

from .test_catalogues import LANGUAGES

pytestmark = pytest.mark.window


def test_twelve_languages_in_a_grid_of_large_targets_and_arabic_drawn_right_to_left(tmp_path, agent):  # noqa: F811
    scenario = Scenario(tmp_path, "language_picker", agent)
    site = scenario.workdir / "site.toml"
    languages = ", ".join(f'"{lang}"' for lang in LANGUAGES)
    site.write_text(re.sub(r"^(\[site\]\n)", rf"\1languages = [{languages}]\n", site.read_text(), count=1, flags=re.M))
    scenario.run()
    bar = scenario.event("bar")
    assert bar["opens_picker"] and bar["buttons"] == 1 and bar["text"] == f"[b]English[/b]  +{len(LANGUAGES) - 1}"
    picker = scenario.event("picker")
    assert picker["order"] == LANGUAGES
    assert picker["names"] == ["[b][u]English[/u][/b]"] + [locale.endonym(lang) for lang in LANGUAGES[1:]]  # the chosen one marked
    assert min(picker["heights_mm"]) >= 19
    fonts = dict(zip(picker["order"], picker["fonts"]))
    assert (fonts["zh-Hant"], fonts["zh-Hans"], fonts["ko"], fonts["ar"]) == ("NotoSansCJKTC", "NotoSansCJKSC", "NotoSansCJKKR", "DejaVuSans")
    arabic = scenario.event("arabic")
    assert arabic["language"] == "ar" and not arabic["picker_open"]
    assert arabic["logical"] == "اكتب اسمي" and arabic["drawn"] != arabic["logical"]
    assert arabic["font"] == "DejaVuSans"
    assert sorted(p.name for p in (scenario.workdir / "screens").glob("*.png")) == ["01-language-picker.png", "02-identify-ar.png"]
