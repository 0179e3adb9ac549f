"""The devices' own strings (ticket labels, patient-facing problems), from config/translations/devices.LANG.json."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from edge_agent.config import DEFAULT_TRANSLATIONS_DIR

FALLBACK_LANGUAGE = "en"


@lru_cache(maxsize=16)
def _load(directory: str, language: str) -> dict[str, str]:
    path = Path(directory) / f"devices.{language}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def text(key: str, language: str, directory: Path = DEFAULT_TRANSLATIONS_DIR) -> str:
    """The string for `key` in `language`, else English, else the key itself."""
    for lang in (language, FALLBACK_LANGUAGE):
        value = _load(str(directory), lang).get(key)
        if value:
            return value
    return key
