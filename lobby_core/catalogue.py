"""Translation catalogues: one loader and one fallback rule for every word either app shows or prints.

A translations folder holds one JSON file per family and language, `<family>.<lang>.json` (families:
`kiosk`, `devices`, `desk`, `consent-pdf`). Entries whose key starts with `_` are metadata (the kiosk's
`_locale`); every other entry is a message with `{name}` placeholders.

The one rule: a message is looked up in the asked language, then the site's default language, then
English. A key English lacks is a bug: tests fail on it (`missing_keys()`), and at run time the key
itself is shown and logged once per family and key (keys are code names, never patient data).

    catalogue = load(site.translations_dir, "desk", default_language=site.site.default_language)
    catalogue.text("es", "board.title")     # str
    catalogue.messages("es")["board.title"] # the merged Mapping, for templates
"""

from __future__ import annotations

import functools
import json
import logging
import re
from pathlib import Path
from typing import Any

from lobby_core.contract import LANGUAGE_TAG

log = logging.getLogger(__name__)
ENGLISH = "en"

_missing: set[tuple[str, str]] = set()


def missing_keys() -> set[tuple[str, str]]:
    """(family, key) pairs asked for and found in no catalogue since start-up (tests assert it stays empty)."""
    return set(_missing)


def _report_missing(family: str, key: str) -> None:
    if (family, key) not in _missing:
        _missing.add((family, key))
        log.error("translation missing in English", extra={"catalogue": family, "key": key})


class Messages(dict[str, str]):
    """One language's messages with the fallbacks merged in; a key none of them has reads as itself."""

    def __init__(self, family: str, entries: dict[str, str]):
        super().__init__(entries)
        self.family = family

    def __missing__(self, key: str) -> str:
        _report_missing(self.family, key)
        return key


class Catalogue:
    def __init__(self, family: str, entries: dict[str, dict[str, Any]], default_language: str = ENGLISH):
        self.family = family
        self._entries = entries
        self.default_language = default_language
        self._merged: dict[str, Messages] = {}

    @property
    def languages(self) -> list[str]:
        return list(self._entries)

    def keys(self, language: str) -> set[str]:
        """The messages `language`'s own file has (no fallbacks)."""
        return {key for key in self._entries.get(language, {}) if not key.startswith("_")}

    def metadata(self, language: str, name: str) -> Any:
        """A `_name` entry of `language`'s file, else of the default language's, else of English's."""
        for lang in self._chain(language):
            value = self._entries.get(lang, {}).get(f"_{name}")
            if value is not None:
                return value
        raise LookupError(f"no _{name} in the {self.family} catalogues")

    def messages(self, language: str) -> Messages:
        merged = self._merged.get(language)
        if merged is None:
            entries: dict[str, str] = {}
            for lang in reversed(self._chain(language)):
                entries.update((k, v) for k, v in self._entries.get(lang, {}).items() if not k.startswith("_"))
            merged = self._merged[language] = Messages(self.family, entries)
        return merged

    def text(self, language: str, key: str, **values: object) -> str:
        template = self.messages(language)[key]
        return template.format(**values) if values else template

    def _chain(self, language: str) -> list[str]:
        chain = []
        for lang in (language, self.default_language, ENGLISH):
            if lang not in chain:
                chain.append(lang)
        return chain


def read(folder: Path, family: str, default_language: str = ENGLISH) -> Catalogue:
    """Read `<family>.<lang>.json` from `folder` (no caching: `load` caches)."""
    pattern = re.compile(rf"^{re.escape(family)}\.({LANGUAGE_TAG[1:-1]})\.json$")
    entries = {}
    folder = Path(folder)
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            match = pattern.match(path.name)
            if match:
                entries[match.group(1)] = json.loads(path.read_text(encoding="utf-8"))
    if not entries:
        raise FileNotFoundError(f"no {family}.<language>.json catalogue in {folder}")
    return Catalogue(family, entries, default_language)


@functools.lru_cache(maxsize=64)
def load(folder: Path, family: str, default_language: str = ENGLISH) -> Catalogue:
    """The catalogue of `family` in `folder`, read once per process."""
    return read(Path(folder), family, default_language)
