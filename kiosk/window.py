"""Window settings, applied before Kivy creates its window (Kivy reads them only once, at creation)."""

from __future__ import annotations

import os

PORTRAIT = (1080, 1920)
LANDSCAPE = (1920, 1080)
WINDOWED_PORTRAIT = (540, 960)


def configure(orientation: str, windowed: bool, size: tuple[int, int] | None = None) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    if windowed:
        width, height = size or (WINDOWED_PORTRAIT if orientation == "portrait" else WINDOWED_PORTRAIT[::-1])
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
        Config.set("graphics", "resizable", "1")
    else:
        # The kiosk owns the whole screen: no border, no title bar, the desktop's resolution.
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
