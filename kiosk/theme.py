"""The kiosk's look in one place: colours (two palettes, checked for contrast), and sizes in physical
millimetres on the configured panel (type scale, spacing, touch targets, reach from the floor).

Kivy's `mm` assumes 96 dpi; a 21.5" 1080x1920 panel is about 102 dpi. Every size here is converted with
the panel's own pixel pitch, so "19 mm" is 19 mm under a finger. `.kv` rules read `app.theme`; the app
builds a new `Theme` when the window, the text size or the contrast choice changes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

log = logging.getLogger(__name__)

MM_PER_INCH = 25.4
MIN_TARGET_MM = 19.0  # older users' minimum, both directions
REACH_MM = (380.0, 1220.0)  # every control between these heights above the floor (seated and standing)
TEXT_CONTRAST, CONTROL_CONTRAST = 4.5, 3.0  # WCAG 1.4.3 and 1.4.11
LARGE_TEXT_FACTOR = 1.35

Colour = tuple[float, float, float, float]


def hex_colour(value: str) -> Colour:
    """'#0B5394' -> (0.04, 0.33, 0.58, 1)."""
    digits = value.strip().lstrip("#")
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"must be a colour like '#0B5394', got {value!r}")
    return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)) + (1.0,)  # type: ignore[return-value]


def luminance(colour: Colour) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Colour, b: Colour) -> float:
    """WCAG 2 contrast ratio, 1.0 to 21.0."""
    lighter, darker = sorted((luminance(a), luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class Palette:
    name: str
    bg: Colour  # the screen
    fg: Colour  # body text
    muted: Colour  # secondary text (still >= 4.5:1)
    surface: Colour  # secondary buttons, cards, fields
    outline: Colour  # the edge of every secondary control (>= 3:1 against bg)
    primary: Colour  # the one next step
    primary_text: Colour
    notice_bg: Colour
    notice_fg: Colour
    track: Colour  # the step bar's empty part
    focus: Colour  # the field being typed into


STANDARD = Palette(
    name="standard", bg=(0.96, 0.96, 0.94, 1), fg=(0.07, 0.09, 0.14, 1), muted=(0.27, 0.30, 0.36, 1),
    surface=(1, 1, 1, 1), outline=(0.33, 0.37, 0.45, 1), primary=(0.0, 0.30, 0.60, 1), primary_text=(1, 1, 1, 1),
    notice_bg=(0.55, 0.11, 0.05, 1), notice_fg=(1, 1, 1, 1), track=(0.80, 0.82, 0.86, 1), focus=(0.0, 0.30, 0.60, 1),
)  # fmt: skip
HIGH_CONTRAST = Palette(
    name="high_contrast", bg=(0, 0, 0, 1), fg=(1, 1, 1, 1), muted=(0.85, 0.85, 0.85, 1),
    surface=(0, 0, 0, 1), outline=(1, 1, 1, 1), primary=(1, 0.85, 0, 1), primary_text=(0, 0, 0, 1),
    notice_bg=(1, 1, 1, 1), notice_fg=(0, 0, 0, 1), track=(0.45, 0.45, 0.45, 1), focus=(1, 0.85, 0, 1),
)  # fmt: skip

# (foreground, background, minimum): every pairing the screens draw.
PAIRINGS = (
    ("fg", "bg", TEXT_CONTRAST), ("muted", "bg", TEXT_CONTRAST), ("fg", "surface", TEXT_CONTRAST),
    ("primary_text", "primary", TEXT_CONTRAST), ("notice_fg", "notice_bg", TEXT_CONTRAST),
    ("outline", "bg", CONTROL_CONTRAST), ("primary", "bg", CONTROL_CONTRAST), ("primary", "track", CONTROL_CONTRAST),
    ("focus", "bg", CONTROL_CONTRAST), ("focus", "surface", CONTROL_CONTRAST),
)  # fmt: skip


def contrast_problems(palette: Palette) -> list[str]:
    problems = []
    for fore, back, minimum in PAIRINGS:
        ratio = contrast(getattr(palette, fore), getattr(palette, back))
        if ratio < minimum:
            problems.append(f"{palette.name}: {fore} on {back} is {ratio:.2f}:1, needs {minimum}:1")
    return problems


def with_accent(palette: Palette, accent: Colour) -> Palette:
    """The site's accent as the primary colour, with whichever of black or white reads better on it."""
    text = max(((1, 1, 1, 1), (0, 0, 0, 1)), key=lambda c: contrast(c, accent))
    return replace(palette, primary=accent, primary_text=text, focus=accent)


def accent_problems(accent: str) -> list[str]:
    """Config problems with `[kiosk] brand_accent` as the standard palette uses it."""
    if not accent:
        return []
    try:
        colour = hex_colour(accent)
    except ValueError as exc:
        return [f"kiosk.brand_accent: {exc}"]
    problems = contrast_problems(with_accent(STANDARD, colour))
    return [f"kiosk.brand_accent {accent}: {problem.split(': ', 1)[1]}" for problem in problems]


def branding_problems(accent: str, logo: Path | None) -> list[str]:
    """The start-up check of the site's branding: the accent against the palette it joins, the logo's file.
    Each problem is logged (the kiosk then refuses to start, so a clinic never runs an unreadable accent)."""
    problems = accent_problems(accent)
    if logo is not None and not logo.is_file():
        problems.append(f"kiosk.brand_logo {logo}: no such file")
    for problem in problems:
        log.error("branding refused: %s", problem)
    return problems


@dataclass(frozen=True)
class Panel:
    """The physical screen: its diagonal (or pixel pitch) and how high its bottom edge is mounted."""

    diagonal_in: float = 21.5
    pixel_pitch_mm: float = 0.0  # 0: derive from the diagonal and the window's pixels
    bottom_edge_mm: float = 800.0

    def px_per_mm(self, window_size: tuple[int, int]) -> float:
        if self.pixel_pitch_mm:
            return 1 / self.pixel_pitch_mm
        return math.hypot(*window_size) / (self.diagonal_in * MM_PER_INCH)

    def height_above_floor_mm(self, window_y: float, window_size: tuple[int, int]) -> float:
        """A point at window y (pixels up from the window's bottom edge), in mm above the floor."""
        return self.bottom_edge_mm + window_y / self.px_per_mm(window_size)

    def reachable_band(self, window_size: tuple[int, int]) -> tuple[float, float]:
        """The window y range (pixels) inside REACH_MM: where controls may go."""
        per_mm = self.px_per_mm(window_size)
        low = max(0.0, (REACH_MM[0] - self.bottom_edge_mm) * per_mm)
        high = min(float(window_size[1]), (REACH_MM[1] - self.bottom_edge_mm) * per_mm)
        return low, high


@dataclass(frozen=True)
class Theme:
    palette: Palette
    px_per_mm: float
    large_text: bool = False
    reach_top: float = 1e9  # window y above which no control may sit (pixels)
    reach_bottom: float = 0.0

    def __getattr__(self, name: str):
        return getattr(self.palette, name)  # app.theme.bg, app.theme.primary, ...

    def mm(self, value: float) -> float:
        return value * self.px_per_mm

    @property
    def high_contrast(self) -> bool:
        return self.palette.name == "high_contrast"

    def _text(self, size_mm: float) -> float:
        return self.mm(size_mm * (LARGE_TEXT_FACTOR if self.large_text else 1.0))

    # Type scale (font size, i.e. the em; capital letters are about 0.7 of it).
    @property
    def font_small(self) -> float:
        return self._text(5.5)

    @property
    def font_body(self) -> float:
        return self._text(7.0)

    @property
    def font_reading(self) -> float:  # consent documents: long text, a little smaller than body
        return self._text(6.5)

    @property
    def font_button(self) -> float:
        return self._text(7.5)

    @property
    def font_title(self) -> float:
        return self._text(10.0)

    @property
    def font_display(self) -> float:  # the ticket number
        return self._text(36.0)

    @property
    def font_bar(self) -> float:  # the bottom bar keeps its words whole: no large-text factor
        return self.mm(5.5)

    # Spacing and targets.
    @property
    def gap(self) -> float:
        return self.mm(4)

    @property
    def pad(self) -> float:
        return self.mm(8)

    @property
    def target(self) -> float:
        return self.mm(MIN_TARGET_MM + 3)  # 3 mm of margin over the minimum

    @property
    def key(self) -> float:  # keyboard keys: many in a row, so exactly the minimum plus 1 mm
        return self.mm(MIN_TARGET_MM + 1)

    @property
    def border(self) -> float:
        return max(2.0, self.mm(0.8))


def build(panel: Panel, window_size: tuple[int, int], *, large_text: bool, high_contrast: bool,
          accent: str = "") -> Theme:  # fmt: skip
    palette = HIGH_CONTRAST if high_contrast else STANDARD
    if accent and not high_contrast:
        palette = with_accent(palette, hex_colour(accent))
    low, high = panel.reachable_band(window_size)
    return Theme(palette, panel.px_per_mm(window_size), large_text, reach_top=high, reach_bottom=low)
