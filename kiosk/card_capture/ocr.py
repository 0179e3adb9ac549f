"""Tesseract, in-process through tesserocr: one loaded model reused for every side.

tesserocr rather than pytesseract: pytesseract starts a `tesseract` process per image, which loads
the English model each time (about 0.3 s of the 1.5 s budget per side on the kiosk), and hands back
text that must be parsed again from TSV; tesserocr keeps one `PyTessBaseAPI` and gives each word its
confidence and line directly.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata")


Box = tuple[int, int, int, int]  # left, top, right, bottom, in the side's pixels

ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"  # what US member and group ids are printed in


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0..100, Tesseract's own
    box: Box | None = None


@dataclass(frozen=True)
class Line:
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


def _rows(boxed: list[tuple[float, float, float, Word]], angle: float) -> list[Line]:
    cos, sin = math.cos(-angle), math.sin(-angle)  # `angle`: the rows' median baseline slope
    turned = sorted(((x * cos - y * sin, x * sin + y * cos, height, word) for x, y, height, word in boxed),
                    key=lambda item: item[1])
    rows: list[list[tuple[float, float, float, Word]]] = []
    for item in turned:
        if rows and abs(item[1] - rows[-1][-1][1]) < 0.5 * max(item[2], rows[-1][-1][2]):
            rows[-1].append(item)
        else:
            rows.append([item])
    return [Line(tuple(word for _, _, _, word in sorted(row, key=lambda item: item[0]))) for row in rows]


def tessdata_dir() -> str:
    configured = os.environ.get("TESSDATA_PREFIX")
    for folder in ((configured,) if configured else ()) + TESSDATA_DIRS:
        if Path(folder, "eng.traineddata").exists():
            return folder
    raise FileNotFoundError("no eng.traineddata: install tesseract-ocr-eng")


_DARKER = [round(255 * (level / 255) ** 2.2) for level in range(256)]


def prepare(image: Image.Image, *, darker: bool = False) -> Image.Image:
    """Greyscale with the glare and the scanner bed's grey stretched away; `darker`: mid-greys darkened too
    (gamma 2.2), for the pale grey labels some cards print beside their values ("Member ID:"), which the
    page layout analysis otherwise drops as background (it thickens bold glyphs: not for the closer read)."""
    grey = ImageOps.autocontrast(ImageOps.grayscale(image), cutoff=1)
    return grey.point(_DARKER) if darker else grey


class TesseractReader:
    """Reads one card side into lines of words with confidences. Thread-safe (one side at a time)."""

    def __init__(self) -> None:
        import tesserocr  # kiosk-only dependency; imported where it is used

        self._tesserocr = tesserocr
        self._api = tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang="eng", psm=tesserocr.PSM.AUTO)
        self._lock = threading.Lock()

    def read(self, image: Image.Image, *, sparse: bool = False, darker: bool = False) -> list[Line]:
        """Words regrouped into printed rows: Tesseract reads a label column and a value column as two
        blocks, so rows are rebuilt from the word boxes, turned by the page's deskew angle.

        `sparse`: Tesseract's sparse-text segmentation, which finds rows its page layout analysis drops
        (big bold rows under a coloured header) but splits some values; for a second look, as is `darker`
        (see `prepare`)."""
        level, psm = self._tesserocr.RIL, self._tesserocr.PSM
        with self._lock:
            self._api.SetPageSegMode(psm.SPARSE_TEXT if sparse else psm.AUTO)
            self._api.SetImage(prepare(image, darker=darker))
            self._api.Recognize()
            iterator = self._api.GetIterator()
            if iterator is None:
                return []
            boxed: list[tuple[float, float, float, Word]] = []  # (x, y, height, word) after deskew
            slopes: list[float] = []
            for word in self._tesserocr.iterate_level(iterator, level.WORD):
                baseline = word.Baseline(level.TEXTLINE) if word.IsAtBeginningOf(level.TEXTLINE) else None
                if baseline and baseline[1][0] - baseline[0][0] > 80:
                    (bx0, by0), (bx1, by1) = baseline
                    slopes.append(math.atan2(by1 - by0, bx1 - bx0))
                try:
                    text, box = word.GetUTF8Text(level.WORD), word.BoundingBox(level.WORD)
                except RuntimeError:  # an empty word (a speck Tesseract kept as a box)
                    continue
                if text and text.strip() and box:
                    x0, y0, x1, y1 = box
                    boxed.append(((x0 + x1) / 2, (y0 + y1) / 2, y1 - y0,
                                  Word(text.strip(), word.Confidence(level.WORD), (x0, y0, x1, y1))))
        return _rows(boxed, statistics.median(slopes) if slopes else 0.0)

    def read_id(self, image: Image.Image, box: Box) -> Word | None:
        """A second, closer read of one printed id: the region around `box` read as one line of the
        characters ids are printed in (a constraint on what Tesseract may see, not a correction of
        what it saw). None when nothing readable is there."""
        left, top, right, bottom = box
        height = bottom - top
        # a third of a glyph's height of margin: room for a last glyph the page read dropped, not for the label
        margin = max(2, height * 3 // 10)
        region = (left, max(0, top - margin), min(image.width, right + margin), min(image.height, bottom + margin))
        crop = prepare(image.crop(region))
        level = self._tesserocr.RIL
        with self._lock:
            self._api.SetPageSegMode(self._tesserocr.PSM.SINGLE_LINE)
            self._api.SetVariable("tessedit_char_whitelist", ID_CHARACTERS)
            try:
                self._api.SetImage(crop)
                self._api.Recognize()
                iterator = self._api.GetIterator()
                words: list[tuple[str, float]] = []
                for word in self._tesserocr.iterate_level(iterator, level.WORD) if iterator else ():
                    try:
                        text = word.GetUTF8Text(level.WORD).strip()
                    except RuntimeError:  # an empty word
                        continue
                    if text:
                        words.append((text, word.Confidence(level.WORD)))
            finally:
                self._api.SetVariable("tessedit_char_whitelist", "")
        if not words:
            return None
        return Word("".join(text for text, _ in words), min(confidence for _, confidence in words), box)

    @property
    def version(self) -> str:
        return self._tesserocr.tesseract_version().split()[1]

    def raw_text(self, image: Image.Image) -> str:
        """Tesseract's plain text of a side: the benchmark's baseline."""
        with self._lock:
            self._api.SetPageSegMode(self._tesserocr.PSM.AUTO)
            self._api.SetImage(prepare(image))
            return self._api.GetUTF8Text()

    def close(self) -> None:
        self._api.End()
