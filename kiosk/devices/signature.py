"""The one signature model (lobby_core.contract.Signature: strokes of points in millimetres) and its uses:
building it from pen samples, refusing signatures too slight to mean anything, rendering PNG and SVG."""

from __future__ import annotations

import math

from lobby_core.signature_image import signature_png
from lobby_core.contract import PenPoint, Signature, Stroke

MIN_INK_MM = 20.0  # total pen travel; a full name is usually well over 60 mm
MIN_EXTENT_MM = 8.0  # a dot or a short tick is not a signature
MAX_POINTS_PER_STROKE = 5000
MAX_STROKES = 200


class SignatureRefused(ValueError):
    """`key` is a message key in config/translations/devices.*.json for the patient."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class SignatureBuilder:
    """Collects pen samples (pen down/up, mm, ms) into strokes, for pads and touchscreens alike."""

    def __init__(self, width_mm: float, height_mm: float, device: str):
        self.width_mm, self.height_mm, self.device = width_mm, height_mm, device
        self._strokes: list[list[PenPoint]] = []
        self._pen_down = False

    def add(self, x_mm: float, y_mm: float, t_ms: int, pen_down: bool) -> None:
        if not pen_down:
            self._pen_down = False
            return
        point = PenPoint(
            x_mm=min(max(x_mm, 0.0), self.width_mm), y_mm=min(max(y_mm, 0.0), self.height_mm), t_ms=max(0, int(t_ms))
        )
        if not self._pen_down:
            if len(self._strokes) >= MAX_STROKES:
                return
            self._strokes.append([])
            self._pen_down = True
        if len(self._strokes[-1]) < MAX_POINTS_PER_STROKE:
            self._strokes[-1].append(point)

    @property
    def pen_down(self) -> bool:
        return self._pen_down

    @property
    def empty(self) -> bool:
        return not self._strokes

    def clear(self) -> None:
        self._strokes.clear()
        self._pen_down = False

    def build(self) -> Signature:
        return Signature(
            width_mm=self.width_mm,
            height_mm=self.height_mm,
            strokes=[Stroke(points=points) for points in self._strokes if points],
            device=self.device,  # type: ignore[arg-type]
        )


def ink_length_mm(signature: Signature) -> float:
    return sum(
        math.dist((a.x_mm, a.y_mm), (b.x_mm, b.y_mm))
        for stroke in signature.strokes
        for a, b in zip(stroke.points, stroke.points[1:])
    )


def require_acceptable(signature: Signature) -> Signature:
    """Return the signature, or raise SignatureRefused("signature.empty" | "signature.too_short")."""
    points = [point for stroke in signature.strokes for point in stroke.points]
    if not points:
        raise SignatureRefused("signature.empty")
    extent = max(
        max(p.x_mm for p in points) - min(p.x_mm for p in points),
        max(p.y_mm for p in points) - min(p.y_mm for p in points),
    )
    if extent < MIN_EXTENT_MM or ink_length_mm(signature) < MIN_INK_MM:
        raise SignatureRefused("signature.too_short")
    return signature


def render_png(signature: Signature, px_per_mm: int = 8) -> bytes:
    """The signature as a PNG, drawn exactly as the agent draws it into consent records."""
    return signature_png(signature, pixels_per_mm=px_per_mm)


def render_svg(signature: Signature, line_mm: float = 0.5) -> str:
    paths = []
    for stroke in signature.strokes:
        if not stroke.points:
            continue
        first, *rest = stroke.points
        commands = [f"M{first.x_mm:.2f} {first.y_mm:.2f}"] + [f"L{p.x_mm:.2f} {p.y_mm:.2f}" for p in rest or [first]]
        paths.append(f'<path d="{" ".join(commands)}"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{signature.width_mm:g}mm" height="{signature.height_mm:g}mm" '
        f'viewBox="0 0 {signature.width_mm:g} {signature.height_mm:g}">'
        f'<g fill="none" stroke="black" stroke-width="{line_mm:g}" stroke-linecap="round" stroke-linejoin="round">'
        + "".join(paths)
        + "</g></svg>"
    )
