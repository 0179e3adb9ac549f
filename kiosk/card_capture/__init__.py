"""Insurance-card capture at the kiosk: a source (SANE or hot folder), Tesseract, the US field extractor."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from .fields import FieldReading, extract
from .ocr import TesseractReader
from .reading import read_fields
from .sources import CardSides, CardSource, CaptureFailed, HotFolderSource, SaneSource

if TYPE_CHECKING:
    from lobby_core.contract import DeviceHealth
    from lobby_core.site_config import DeviceConfig

JPEG_QUALITY = 80

__all__ = ["CardReading", "CardCapture", "CardSides", "CardSource", "CaptureFailed", "FieldReading",
           "HotFolderSource", "SaneSource", "TesseractReader", "encode_jpeg", "extract", "read_fields", "scanner_health", "source_for"]


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


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    """One side as the check-in carries it: JPEG in memory, never a file; a scan too large for the
    contract's limit (a 600 dpi scanner) is halved until it fits."""
    from lobby_core.contract import MAX_CARD_IMAGE_BYTES

    image = image.convert("RGB")
    while True:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= MAX_CARD_IMAGE_BYTES or min(image.size) < 200:
            return out.getvalue()
        image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


def source_for(config: "DeviceConfig") -> CardSource:
    """The card scanner a `[[kiosk.devices]]` entry of kind card_scanner names."""
    if config.transport == "sane":
        return SaneSource(config.sane_device)
    return HotFolderSource(Path(config.folder), timeout_s=config.capture_timeout_s)


def scanner_health(name: str, source: CardSource, *, last_problem: str = "", open_device: bool = False) -> "DeviceHealth":
    """The card scanner's state for the heartbeat and `kiosk doctor`: a hot folder that is not there is
    offline; a SANE scanner is only known at a scan (`unknown`), unless `open_device` may open it (doctor
    with no kiosk running); `last_problem`: the last capture's failure, other than "no card came"."""
    from lobby_core.contract import DeviceHealth

    folder = getattr(source, "folder", None)
    if folder is not None and not folder.is_dir():
        return DeviceHealth(name=name, kind="card_scanner", state="offline", reason="hot folder missing")
    if isinstance(source, SaneSource) and open_device and (problem := source.check()):
        return DeviceHealth(name=name, kind="card_scanner", state="offline", reason=problem)
    if last_problem:
        return DeviceHealth(name=name, kind="card_scanner", state="degraded", reason=last_problem)
    known = folder is not None or open_device
    return DeviceHealth(name=name, kind="card_scanner", state="online" if known else "unknown")
