"""Which font draws each language, for the three places text leaves the program as glyphs.

- `screen_face(language)`: FreeType renders it (the kiosk's Kivy labels, the ticket's raster image):
  Noto, with the CJK face of the language's own region (Simplified, Traditional and Korean glyph forms
  differ) and DejaVu Sans for Arabic, whose strings also carry Latin ("QR", "911"), which Noto Sans
  Arabic lacks.
- `pdf_face(language)`: reportlab embeds it, and reportlab reads TrueType outlines only (Noto CJK is
  CFF), so CJK documents use WenQuanYi Zen Hei; every other language DejaVu Sans, as before.

The Debian packages (scripts/setup.sh): fonts-noto-core, fonts-noto-cjk, fonts-dejavu-core, fonts-wqy-zenhei.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
WQY = Path("/usr/share/fonts/truetype/wqy")


@dataclass(frozen=True)
class Face:
    name: str  # the name registered with the renderer
    regular: Path
    bold: Path
    index: int = 0  # the face inside a .ttc collection

    @property
    def missing(self) -> list[Path]:
        return [path for path in (self.regular, self.bold) if not path.exists()]


LATIN = Face("NotoSans", NOTO / "NotoSans-Regular.ttf", NOTO / "NotoSans-Bold.ttf")
ARABIC = Face("DejaVuSans", DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf")
# Face order in the Noto CJK collections: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK.
_CJK_INDEX = {"ko": 1, "zh-Hans": 2, "zh": 2, "zh-Hant": 3}
CJK_LANGUAGES = frozenset(_CJK_INDEX)


def _cjk(index: int) -> Face:
    region = {1: "KR", 2: "SC", 3: "TC"}[index]
    return Face(f"NotoSansCJK{region}", NOTO_CJK / "NotoSansCJK-Regular.ttc", NOTO_CJK / "NotoSansCJK-Bold.ttc", index)


def screen_face(language: str) -> Face:
    if language in _CJK_INDEX:
        return _cjk(_CJK_INDEX[language])
    if language.split("-")[0] in {"ar", "fa", "ur"}:
        return ARABIC
    return LATIN


PDF_LATIN = Face("DejaVuSans", DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf")
PDF_CJK = Face("WenQuanYiZenHei", WQY / "wqy-zenhei.ttc", WQY / "wqy-zenhei.ttc")  # one weight: bold is synthetic


def pdf_face(language: str) -> Face:
    return PDF_CJK if language in _CJK_INDEX else PDF_LATIN
