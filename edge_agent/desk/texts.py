"""Page text for the desk (config/translations/desk.<lang>.json) and the lobby board (board.<lang>.json),
through lobby_core.catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from lobby_core import catalogue as catalogues
from lobby_core import locale
from lobby_core.catalogue import ENGLISH


def catalogue(translations_dir: Path, language: str, default_language: str = ENGLISH) -> Mapping[str, str]:
    """Every desk message in `language`, the site's default language and English filling gaps."""
    return catalogues.load(Path(translations_dir), "desk", default_language).messages(language)


def board_catalogue(translations_dir: Path, language: str, default_language: str = ENGLISH) -> Mapping[str, str]:
    """Every lobby-board message in `language`, with the same fallbacks."""
    return catalogues.load(Path(translations_dir), "board", default_language).messages(language)


def choose_language(requested: str | None, accept_language: str, site_languages: list[str]) -> str:
    """`?lang=` if the site offers it, else the browser's first offered site language, else the site's first."""
    if requested in site_languages:
        return requested
    for part in accept_language.split(","):
        code = locale.closest(part.split(";")[0].strip(), site_languages)  # "zh-TW" -> "zh-Hant"
        if code:
            return code
    return site_languages[0]


def direction(language: str) -> str:
    """The page's `dir` attribute: "rtl" for Arabic, else "ltr"."""
    return locale.direction(language)
