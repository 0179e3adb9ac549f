"""Tickets in every language: Latin-1 languages as printer text, the others as raster images drawn in a
face that has every glyph; the QR code stays a native ESC/POS code either way."""

from __future__ import annotations

import datetime as dt

import pytest
from escpos.printer import Dummy

from kiosk.devices import ticket as ticket_layout
from kiosk.devices.ticket import Ticket
from lobby_core import fonts

from .test_catalogues import LANGUAGES
from .test_glyphs import uncovered

RASTER = b"\x1dv0"  # GS v 0: a raster bit image
QR_STORE = b"\x1d(k"  # GS ( k: a native QR code
TEXT_PRINTED = {"en", "es", "fr", "de", "pt", "ht", "tl"}


def _ticket(language: str) -> Ticket:
    return Ticket("Riverside Family Clinic", "K1-042", "https://checkin.example/q/K1-042", dt.datetime(2026, 3, 14, 9, 41), language, "M. S.")


@pytest.mark.parametrize("language", LANGUAGES)
def test_ticket_prints_as_text_or_raster_with_every_glyph_in_its_face(language: str):
    lines = ticket_layout.layout(_ticket(language))
    printer = Dummy()
    ticket_layout.render(_ticket(language), printer)
    output = printer.output
    assert QR_STORE in output and b"https://checkin.example/q/K1-042" in output
    if language in TEXT_PRINTED:
        assert RASTER not in output
        assert b"K1-042" in output
        return
    assert RASTER in output and b"K1-042" not in output.replace(b"q/K1-042", b"")
    face = fonts.screen_face(language)
    assert [text for style, text in lines if style != "qr" and uncovered(text, face)] == []
    image = ticket_layout.raster_image([line for line in lines if line[0] != "qr"], language)
    assert image.width == ticket_layout.RASTER_WIDTH_DOTS
    inked_rows = sum(1 for y in range(image.height) if any(image.getpixel((x, y)) == 0 for x in range(0, image.width, 2)))
    assert inked_rows > 150  # clinic, label, the large number, name, time, two sentences


def test_the_ticket_shows_the_date_the_locale_way():
    assert ("normal", "2026年3月14日 上午9:41") in ticket_layout.layout(_ticket("zh-Hant"))
    assert ("normal", "14.03.2026 09:41") in ticket_layout.layout(_ticket("de"))


def test_a_long_chinese_line_breaks_between_characters():
    sentence = "請坐下稍候，我們會叫您的號碼。" * 3
    image_one = ticket_layout.raster_image([("normal", sentence[:15])], "zh-Hant")
    image_three = ticket_layout.raster_image([("normal", sentence)], "zh-Hant")
    assert image_three.height >= 3 * (image_one.height - 10)
