"""Consent documents are Markdown; Kivy labels speak their own markup. This turns the one into the other.

Headings (`#`..`###`), paragraphs, bullet (`-`, `*`) and numbered lists, `**bold**`, `*emphasis*` /
`_emphasis_`. Anything else is shown as the text it is. Kivy's markup characters in the document are
escaped first, so a document cannot inject markup. A leading heading equal to the form's title is
dropped (the screen shows the title already).
"""

from __future__ import annotations

import re

from kivy.utils import escape_markup

HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+(.*)$")
BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\*)|(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])")
HEADING_SCALE = {1: 1.4, 2: 1.25, 3: 1.1}


def inline(text: str) -> str:
    text = escape_markup(text)
    text = BOLD.sub(lambda m: f"[b]{m.group(1) or m.group(2)}[/b]", text)
    return EMPHASIS.sub(lambda m: f"[i]{m.group(1) or m.group(2)}[/i]", text)


def to_markup(markdown: str, body_size: float, title: str = "") -> str:
    """Kivy markup for `markdown` at `body_size` pixels (headings larger), blocks separated by blank lines."""
    blocks: list[str] = []
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            blocks.append(inline(" ".join(line.strip() for line in paragraph)))
            paragraph.clear()

    for line in markdown.splitlines():
        if not line.strip():
            end_paragraph()
            continue
        if heading := HEADING.match(line):
            end_paragraph()
            words = heading[2].strip().rstrip("#").strip()
            if not blocks and title and words.casefold() == title.strip().casefold():
                continue
            size = round(body_size * HEADING_SCALE[len(heading[1])])
            blocks.append(f"[size={size}][b]{inline(words)}[/b][/size]")
        elif bullet := BULLET.match(line):
            end_paragraph()
            blocks.append(f"  \u2022  {inline(bullet[1])}")
        elif numbered := NUMBERED.match(line):
            end_paragraph()
            blocks.append(f"  {numbered[1]}.  {inline(numbered[2])}")
        else:
            paragraph.append(line)
    end_paragraph()
    return "\n\n".join(blocks)
