"""One thin Kivy screen per check-in step (layout in its .kv), plus the touch widgets they share."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

# Load order matters: shared styles and widgets first, then the steps, then the root that holds them.
KV_FILES = [
    "common.kv",
    "keyboard.kv",
    "signature_area.kv",
    "overlays.kv",
    "attract.kv",
    "identify.kv",
    "manual.kv",
    "not_found.kv",
    "waiting.kv",
    "confirm.kv",
    "see_desk.kv",
    "review.kv",
    "card.kv",
    "forms.kv",
    "offline.kv",
    "done.kv",
    "root.kv",
]


def load_layouts() -> None:
    from kivy.lang import Builder

    from . import keyboard, overlays, scanner_picture, shaped_text, signature_area, steps  # noqa: F401 - classes the .kv files name

    shaped_text.register()
    for name in KV_FILES:
        Builder.load_file(str(HERE / name))
