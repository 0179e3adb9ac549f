"""The devices' own strings (ticket labels, patient-facing problems), from config/translations/devices.LANG.json."""

from __future__ import annotations

from pathlib import Path

from lobby_core import catalogue
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR


def text(key: str, language: str, directory: Path = DEFAULT_TRANSLATIONS_DIR) -> str:
    """The string for `key` in `language` (lobby_core.catalogue's fallback rule)."""
    return catalogue.load(Path(directory), "devices").text(language, key)
