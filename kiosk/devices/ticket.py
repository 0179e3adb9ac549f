"""The check-in ticket: what it says, and how it becomes ESC/POS on a python-escpos printer.

Receipt printers carry Latin code pages, not Arabic, Cyrillic, Vietnamese or CJK fonts: a ticket with a
character beyond Latin-1 is printed as raster images drawn with Pillow (the kiosk's Noto faces; Arabic
shaped by libraqm when Pillow has it, else by kiosk.text_shaping), the QR code staying native.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from escpos.escpos import Escpos
from PIL import Image, ImageDraw, ImageFont, features

from lobby_core import fonts, locale, text_shaping
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR


from . import catalogue

DisplayNamePolicy = Literal["none", "initials", "first_name"]


@dataclass(frozen=True)
class Ticket:
    clinic_name: str
    number: str
    qr_payload: str  # what the patient's phone opens to follow the queue: no PHI
    issued_at: dt.datetime
    language: str = "en"
    display_name: str = ""  # already reduced by `display_name_for`; empty prints no name

    def __repr__(self) -> str:
        return f"Ticket(number={self.number!r}, language={self.language!r})"


def display_name_for(policy: DisplayNamePolicy, given_names: str, family_name: str) -> str:
    """The only patient name a ticket may carry, per config.kiosk.display_name."""
    if policy == "first_name":
        return given_names.split()[0] if given_names.split() else ""
    if policy == "initials":
        letters = [part[0].upper() for part in (given_names.split()[:1] + family_name.split()[:1]) if part]
        return " ".join(f"{letter}." for letter in letters)
    return ""


Style = Literal["title", "normal", "number", "qr"]
RASTER_WIDTH_DOTS = 512  # an 80 mm head prints 576 dots at 203 dpi; this leaves the paper's margins
_RASTER_SIZE = {"title": 30, "normal": 26, "number": 112}


def layout(ticket: Ticket, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> list[tuple[Style, str]]:
    """The ticket's lines, top to bottom, in the patient's language."""

    def label(key: str) -> str:
        return catalogue.text(key, ticket.language, translations_dir)

    issued = f"{locale.format_date(ticket.issued_at.date(), ticket.language, 'medium')} {locale.format_time(ticket.issued_at, ticket.language)}"
    lines: list[tuple[Style, str]] = [("title", ticket.clinic_name), ("normal", label("ticket.your_number")), ("number", ticket.number)]
    if ticket.display_name:
        lines.append(("normal", ticket.display_name))
    lines += [("normal", issued), ("normal", label("ticket.please_wait")), ("qr", ticket.qr_payload), ("normal", label("ticket.scan_to_follow"))]
    return lines


def needs_raster(lines: list[tuple[Style, str]]) -> bool:
    return any(ord(char) > 0xFF for style, text in lines if style != "qr" for char in text)


def render(ticket: Ticket, printer: Escpos, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> None:
    """Write the ticket to `printer` (any python-escpos printer: Network, Serial, Usb, File, Dummy)."""
    lines = layout(ticket, translations_dir)
    if needs_raster(lines):
        _render_raster(lines, ticket.language, printer)
    else:
        _render_text(lines, printer)
    printer.cut()


def _render_text(lines: list[tuple[Style, str]], printer: Escpos) -> None:
    for style, text in lines:
        if style == "qr":
            printer.qr(text, size=6, native=True, center=False)
        elif style == "number":
            printer.set(align="center", bold=True, custom_size=True, width=4, height=4)
            printer.text(f"{text}\n")
        else:
            printer.set(align="center", bold=style == "title", normal_textsize=True)
            printer.text(f"{text}\n")
    printer.set(align="center", bold=False, normal_textsize=True)


def _render_raster(lines: list[tuple[Style, str]], language: str, printer: Escpos) -> None:
    block: list[tuple[Style, str]] = []
    for style, text in [*lines, ("qr", "")]:
        if style != "qr":
            block.append((style, text))
            continue
        if block:
            printer.image(raster_image(block, language), impl="bitImageRaster", center=False)
            block = []
        if text:
            printer.set(align="center")
            printer.qr(text, size=6, native=True, center=False)


def raster_image(lines: list[tuple[Style, str]], language: str) -> Image.Image:
    """Black text on white, centred, each line wrapped to the paper, in the language's face."""
    face = fonts.screen_face(language)
    raqm = features.check("raqm")
    rtl = locale.direction(language) == "rtl"
    rows: list[tuple[ImageFont.FreeTypeFont, str]] = []
    for style, text in lines:
        font = ImageFont.truetype(
            str(face.regular if style == "normal" else face.bold), _RASTER_SIZE[style], index=face.index,
            layout_engine=ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC,
        )  # fmt: skip
        if raqm:  # libraqm shapes and reorders; break the logical text, draw each line right to left
            rows += [(font, line) for line in _wrap(text, lambda s, f=font: f.getlength(s, direction="rtl" if rtl else None))]
        else:
            rows += [(font, line) for line in text_shaping.visual_lines(text, RASTER_WIDTH_DOTS - 16, font.getlength)]
    spacing = 10
    heights = [font.getbbox("Hg")[3] + spacing for font, _ in rows]
    image = Image.new("1", (RASTER_WIDTH_DOTS, sum(heights) + spacing), 1)
    draw = ImageDraw.Draw(image)
    y = spacing // 2
    for (font, line), height in zip(rows, heights):
        direction = "rtl" if raqm and rtl else None
        width = font.getlength(line, direction=direction) if raqm else font.getlength(line)
        draw.text(((RASTER_WIDTH_DOTS - width) / 2, y), line, font=font, fill=0, direction=direction)
        y += height
    return image


def _wrap(text: str, measure) -> list[str]:
    """Break at spaces; a run wider than the paper (Chinese has no spaces) breaks between characters."""
    width = RASTER_WIDTH_DOTS - 16
    words: list[str] = []
    for word in text.split(" "):
        while measure(word) > width and len(word) > 1:
            cut = max(n for n in range(1, len(word)) if measure(word[:n]) <= width or n == 1)
            words.append(word[:cut])
            word = word[cut:]
        words.append(word)
    lines, line = [], ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if line and measure(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line]
