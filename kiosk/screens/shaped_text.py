"""Labels and buttons that draw every language: the font follows the language and the text's script
(kiosk.fonts), and right-to-left text is shaped and wrapped line by line (lobby_core.text_shaping), since
Kivy's SDL2 renderer does neither. The .kv files keep setting `text` in logical order; these widgets
swap in the drawable form and mirror left alignment for a right-to-left language."""

from __future__ import annotations

from kivy.app import App
from kivy.core.text import Label as CoreLabel
from kivy.properties import StringProperty
from kivy.uix.button import Button
from kivy.uix.label import Label

from lobby_core import locale

from lobby_core import text_shaping

from .. import fonts


class ShapedText:
    language = StringProperty("")  # "" follows the patient's chosen language

    def __init__(self, **kwargs):
        self._logical = ""
        self._drawn: str | None = None
        self._ltr_halign = "left"  # the alignment the layout asked for (Label's default until kv sets one)
        self._mirroring = False
        super().__init__(**kwargs)
        for name in ("width", "text_size", "font_size", "bold", "language"):
            self.fbind(name, self._redraw)

    @property
    def logical_text(self) -> str:
        """The text as the catalogue wrote it (tests and read-aloud use this, not the shaped glyph order)."""
        return self._logical

    def on_text(self, _widget, value: str) -> None:
        if value == self._drawn:
            return
        self._logical = value
        self._redraw()

    def on_halign(self, _widget, value: str) -> None:
        if not self._mirroring:
            self._ltr_halign = value

    def _language(self) -> str:
        if self.language:
            return self.language
        app = App.get_running_app()
        view = getattr(app, "view", None)
        return getattr(view, "language", "en")

    def _redraw(self, *_args) -> None:
        language, logical = self._language(), self._logical
        self.font_name = fonts.font_name(language, logical)
        rtl = locale.direction(language) == "rtl" or text_shaping.is_rtl(logical)
        wanted = "right" if rtl and self._ltr_halign == "left" else self._ltr_halign
        if wanted != self.halign:
            self._mirroring = True
            self.halign = wanted
            self._mirroring = False
        drawn = self._drawable(logical) if text_shaping.is_rtl(logical) else logical
        self._drawn = drawn
        self.text = drawn

    def _drawable(self, logical: str) -> str:
        if self.markup and "[" in logical:
            return text_shaping.shape_markup(logical)
        width = (self.text_size[0] or self.width) * 0.97
        if width <= 1:
            return text_shaping.shape_line(logical)
        core = CoreLabel(font_name=self.font_name, font_size=self.font_size, bold=self.bold)
        return "\n".join(text_shaping.visual_lines(logical, width, lambda s: core.get_extents(s)[0]))


class ShapedLabel(ShapedText, Label):
    pass


class ShapedButton(ShapedText, Button):
    pass


def register() -> None:
    from kivy.factory import Factory

    for cls in (ShapedLabel, ShapedButton):
        if cls.__name__ not in Factory.classes:
            Factory.register(cls.__name__, cls=cls)
