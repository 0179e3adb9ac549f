"""Arabic (and any right-to-left) text made drawable by renderers that do no shaping: Kivy's SDL2 labels
and the ticket printer's raster. Letters are joined (arabic-reshaper) and each line is put in visual order
(python-bidi). Lines must be broken before reordering, so wrapping happens here, not in the renderer.

    lines = visual_lines("مرحبًا بك في العيادة", width=300, measure=lambda s: font.getlength(s))
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, Callable

_TAG = re.compile(r"(\[/?[a-z]+(?:=[^\]]*)?\])")  # Kivy markup: [b], [/u], [color=ff0000]


def is_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


@functools.lru_cache(maxsize=1)
def _reshaper() -> Any:
    import arabic_reshaper

    return arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False, "support_ligatures": True})


def shape_line(line: str) -> str:
    """One line of logical text in visual order with joined letters; text with no RTL letter is unchanged."""
    if not is_rtl(line):
        return line
    from bidi.algorithm import get_display

    return str(get_display(_reshaper().reshape(line), base_dir="R"))


def shape_markup(text: str) -> str:
    """A one-line Kivy markup string shaped between its tags (the tags keep their place)."""
    return "".join(part if _TAG.fullmatch(part) else shape_line(part) for part in _TAG.split(text))


def visual_lines(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break logical `text` into lines no wider than `width`, then shape each line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and measure(shape_line(candidate)) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return [shape_line(line) for line in lines]
