"""Page text for the desk and the board, from config/translations/desk.<lang>.json (English fills gaps)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

FALLBACK = "en"


@functools.lru_cache(maxsize=32)
def catalogue(translations_dir: Path, language: str) -> dict[str, str]:
    def load(lang: str) -> dict[str, str]:
        path = translations_dir / f"desk.{lang}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    return {**load(FALLBACK), **load(language)}


def choose_language(requested: str | None, accept_language: str, site_languages: list[str]) -> str:
    """`?lang=` if the site offers it, else the browser's first offered site language, else the site's first."""
    if requested in site_languages:
        return requested
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in site_languages:
            return code
    return site_languages[0]
