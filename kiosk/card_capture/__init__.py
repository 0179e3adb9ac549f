"""Insurance-card capture at the kiosk: a source (SANE or hot folder), Tesseract, the US field extractor."""

from __future__ import annotations

from dataclasses import dataclass

from .fields import FieldReading, extract
from .ocr import TesseractReader
from .reading import read_fields
from .sources import CardSides, CardSource, CaptureFailed, HotFolderSource, SaneSource

__all__ = ["CardReading", "CardCapture", "CardSides", "CardSource", "CaptureFailed", "FieldReading",
           "HotFolderSource", "SaneSource", "TesseractReader", "extract", "read_fields"]


@dataclass
class CardReading:
    sides: CardSides
    fields: dict[str, FieldReading]

    @property
    def for_desk(self) -> list[str]:
        """The fields the desk must check: read with low confidence, or a label without a readable value."""
        return [name for name, reading in self.fields.items() if reading.needs_review]

    def wipe(self) -> None:
        for image in (self.sides.front, self.sides.back):
            if image is not None:
                image.close()
        self.fields = {}


class CardCapture:
    def __init__(self, source: CardSource, reader: TesseractReader) -> None:
        self.source, self.reader = source, reader

    def read_card(self) -> CardReading:
        sides = self.source.capture()
        return CardReading(sides=sides, fields=read_fields(self.reader, sides.front, sides.back))
