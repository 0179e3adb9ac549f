"""The lobby board in the patient-facing languages: `lang` and `dir` on the page, the browser's
Accept-Language matched to the closest site language (zh-TW -> zh-Hant), a real agent serving it."""

from __future__ import annotations

import re
from typing import Iterator

import httpx
import pytest

from tests.desk.conftest import AgentProcess

from .test_catalogues import LANGUAGES


@pytest.fixture(scope="module")
def agent(tmp_path_factory) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path_factory.mktemp("board-agent"))
    process.prepare()
    config = process.config.read_text()
    languages = ", ".join(f'"{lang}"' for lang in LANGUAGES)
    process.config.write_text(re.sub(r"^(\[site\]\n)", rf"\1languages = [{languages}]\n", config, flags=re.M))
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _html_tag(page: str) -> str:
    return re.search(r"<html[^>]*>", page).group(0)


@pytest.mark.parametrize("language, direction, calling", [("ar", "rtl", "يتم النداء الآن"), ("zh-Hans", "ltr", "正在叫号"), ("ko", "ltr", "지금 호출 중")])
def test_the_board_names_its_language_and_direction(agent, language, direction, calling):
    page = httpx.get(f"{agent.url}/board", params={"lang": language}, timeout=10).text
    assert _html_tag(page) == f'<html lang="{language}" dir="{direction}">'
    assert calling in page


def test_the_browsers_language_is_matched_to_the_closest_site_language(agent):
    page = httpx.get(f"{agent.url}/board", headers={"Accept-Language": "zh-TW,zh;q=0.8,en;q=0.5"}, timeout=10).text
    assert _html_tag(page) == '<html lang="zh-Hant" dir="ltr">'
    assert "現在叫號" in page
