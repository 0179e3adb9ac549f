"""The kiosk's fonts: one registered Kivy font per face (lobby_core.fonts picks the face per language),
and the choice for a piece of text, so that every script draws with glyphs rather than boxes.

Kivy's SDL2 text renderer opens the first face of a .ttc collection only, so a CJK region's face is
copied out of the collection once (fontTools, ~3 s) into a cache folder and registered from there.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from lobby_core import fonts
from lobby_core.fonts import Face

_registered: dict[str, Face] = {}


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lobby-checkin" / "fonts"


def face_file(path: Path, index: int) -> Path:
    """A single-face font file for `path`'s face `index` (the file itself when it is one already)."""
    if path.suffix.lower() != ".ttc":
        return path
    out = cache_dir() / f"{path.stem}-{index}.otf"
    if not out.exists() or out.stat().st_mtime < path.stat().st_mtime:
        from fontTools.ttLib import TTCollection

        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(f".{os.getpid()}.part")
        TTCollection(str(path)).fonts[index].save(str(partial))
        partial.replace(out)
    return out


def register(face: Face) -> str:
    """Register `face` with Kivy (regular and bold) and return the font_name labels use."""
    if face.name not in _registered:
        from kivy.core.text import LabelBase

        regular, bold = face_file(face.regular, face.index), face_file(face.bold, face.index)
        LabelBase.register(face.name, fn_regular=str(regular), fn_bold=str(bold))
        _registered[face.name] = face
    return face.name


def face_for(language: str, text: str = "") -> Face:
    """The face for `text` shown while `language` is chosen: text in another script than the language's
    (a language's own name on the picker, a Latin brand in Arabic) gets that script's face."""
    face = fonts.screen_face(language)
    script = _script(text)
    if script == "cjk" and language not in fonts.CJK_LANGUAGES:
        return fonts.screen_face("zh-Hans")
    if script == "arabic" and face is not fonts.ARABIC:
        return fonts.ARABIC
    return face


def font_name(language: str, text: str = "") -> str:
    return register(face_for(language, text))


def _script(text: str) -> str:
    for char in text:
        if ord(char) < 0x0590:
            continue
        name = unicodedata.name(char, "")
        if name.startswith(("ARABIC", "HEBREW")):
            return "arabic"
        if name.startswith(("CJK", "HANGUL", "HIRAGANA", "KATAKANA", "FULLWIDTH", "IDEOGRAPHIC")):
            return "cjk"
    return "latin"
