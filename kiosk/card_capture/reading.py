"""From the two images of a card to its fields: Tesseract's page read, a sparse second look when a printed
id was not found, and a closer read of each id that was."""

from __future__ import annotations

import re

from PIL import Image

from .fields import ID_FIELDS, ID_MISREAD, UNREADABLE, FieldReading, extract, garbled
from .ocr import Box, Line, TesseractReader

_ID_SHAPE = re.compile(r"[A-Z0-9][A-Z0-9-]*\d[A-Z0-9-]*")


def read_fields(reader: TesseractReader, front: Image.Image, back: Image.Image | None) -> dict[str, FieldReading]:
    sides = [(front, reader.read(front))] + ([(back, reader.read(back))] if back is not None else [])
    fields = extract(sides[0][1], sides[1][1] if back is not None else [])
    if any(fields[name].value is None for name in ID_FIELDS):  # a row the page layout analysis dropped
        sides = [(image, lines + reader.read(image, darker=True) + reader.read(image, sparse=True)) for image, lines in sides]
        second = extract(sides[0][1], sides[1][1] if back is not None else [])
        fields = {name: second[name] if reading.value is None else reading for name, reading in fields.items()}
    for name in ID_FIELDS:
        fields[name] = _read_closer(reader, fields[name], sides)
    return fields


def _read_closer(reader: TesseractReader, reading: FieldReading, sides: list[tuple[Image.Image, list[Line]]]) -> FieldReading:
    """The id read again from its own region; kept only if it has an id's shape and about the same length
    (the region may hold a neighbour's glyph). Its confidence decides the desk's review, as before. A value
    the page read saw with a glyph no id has ("S$G85...") is never kept as it was: unreadable if this fails."""
    if reading.value is None:
        return reading
    fallback = UNREADABLE if garbled(reading.value) else reading
    length = len(reading.value.translate(str.maketrans("", "", ID_MISREAD)))
    boxes = [word.box for word in reading.words if word.box is not None]
    if not boxes:
        return fallback
    image = next((image for image, lines in sides
                  if any(word is reading.words[0] for line in lines for word in line.words)), None)
    if image is None:
        return fallback
    again = reader.read_id(image, _union(boxes))
    if again is None or not _ID_SHAPE.fullmatch(again.text) or abs(len(again.text) - length) > 1:
        return fallback
    return FieldReading.read(again.text, [again])


def _union(boxes: list[Box]) -> Box:
    return (min(box[0] for box in boxes), min(box[1] for box in boxes),
            max(box[2] for box in boxes), max(box[3] for box in boxes))
