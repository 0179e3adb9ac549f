"""Site branding is checked at start-up: an accent that misses 3:1 / 4.5:1 where the palette uses it, or a
missing logo, is refused with a log line that names the failing pairing; a readable accent passes."""

from __future__ import annotations

import logging

from kiosk import theme


def test_a_low_contrast_accent_is_refused_with_a_clear_log_line(caplog):
    with caplog.at_level(logging.ERROR, logger="kiosk.theme"):
        problems = theme.branding_problems("#FFE14D", None)  # pale yellow buttons on a light screen
    assert problems and all(p.startswith("kiosk.brand_accent #FFE14D: ") for p in problems)
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [f"branding refused: {p}" for p in problems]
    assert any(":1" in p for p in problems)  # the measured ratio is named


def test_a_readable_accent_and_an_existing_logo_pass(tmp_path, caplog):
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n")
    with caplog.at_level(logging.ERROR, logger="kiosk.theme"):
        assert theme.branding_problems("#0B5394", logo) == []
    assert caplog.records == []
    palette = theme.with_accent(theme.STANDARD, theme.hex_colour("#0B5394"))
    assert theme.contrast_problems(palette) == []


def test_a_missing_logo_is_refused(tmp_path):
    assert theme.branding_problems("", tmp_path / "nope.png") == [f"kiosk.brand_logo {tmp_path / 'nope.png'}: no such file"]
