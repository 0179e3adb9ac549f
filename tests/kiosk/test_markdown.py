"""The consent renderer: Markdown in, Kivy markup out, nothing raw left over."""

from __future__ import annotations

from pathlib import Path

import re

from kiosk.markdown import to_markup

CONSENTS = Path(__file__).resolve().parents[2] / "config" / "consents"


def test_headings_lists_and_emphasis_become_markup():
    markup = to_markup("# Consent\n\nI **agree** to *care*.\n\n## Rights\n- one\n- two\n1. first\n", 20)
    assert markup == (
        "[size=28][b]Consent[/b][/size]\n\nI [b]agree[/b] to [i]care[/i].\n\n[size=25][b]Rights[/b][/size]"
        "\n\n  \u2022  one\n\n  \u2022  two\n\n  1.  first"
    )


def test_the_leading_heading_that_repeats_the_title_is_dropped_and_lines_join_into_paragraphs():
    markup = to_markup("# Consent to Treat\n\nFirst line\nsecond line.\n", 20, title="Consent to treat")
    assert markup == "First line second line."


def test_markup_in_the_document_is_escaped_and_snake_case_is_not_emphasis():
    markup = to_markup("Pay [b]now[/b] & file_name_here, 2 * 3 * 4", 20)
    assert "[b]" not in markup.replace("&bl;b&br;", "") and "&amp;" in markup
    assert "file_name_here" in markup and "[i]" not in markup


def test_every_shipped_consent_renders_without_markdown_syntax_left():
    for document in sorted(CONSENTS.glob("*/*.md")):
        markup = to_markup(document.read_text(encoding="utf-8"), 20)
        shown = re.sub(r"\[/?(b|i|size)(=\d+)?\]", "", markup)  # what a markup label draws
        assert not any(token in shown for token in ("# ", "**", "__")), document
        assert "[" not in shown.replace("&bl;", ""), document
