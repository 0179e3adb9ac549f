"""A signature's strokes as a PNG picture (for FHIR `Signature.data`), drawn the same way every time."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from .contract import Signature

PIXELS_PER_MM = 4
INK = (11, 31, 77)
INK_WIDTH_PX = 2


def signature_png(signature: Signature, pixels_per_mm: int = PIXELS_PER_MM) -> bytes:
    size = (max(1, round(signature.width_mm * pixels_per_mm)), max(1, round(signature.height_mm * pixels_per_mm)))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for stroke in signature.strokes:
        points = [(p.x_mm * pixels_per_mm, p.y_mm * pixels_per_mm) for p in stroke.points]
        if len(points) == 1:
            x, y = points[0]
            draw.ellipse((x - INK_WIDTH_PX, y - INK_WIDTH_PX, x + INK_WIDTH_PX, y + INK_WIDTH_PX), fill=INK)
        elif points:
            draw.line(points, fill=INK, width=INK_WIDTH_PX, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
