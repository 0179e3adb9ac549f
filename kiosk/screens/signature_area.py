"""Signing with a finger: ink on screen, strokes in millimetres for the consent record."""

from __future__ import annotations

import time

from kivy.app import App
from kivy.graphics import Color, Line
from kivy.metrics import Metrics
from kivy.uix.widget import Widget

from lobby_core.contract import Signature

from ..devices.signature import SignatureBuilder, SignatureRefused, require_acceptable

MM_PER_INCH = 25.4


class SignatureArea(Widget):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._builder: SignatureBuilder | None = None
        self._started = 0.0

    @property
    def px_per_mm(self) -> float:
        return Metrics.dpi / MM_PER_INCH

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        if self._builder is None:
            self._builder = SignatureBuilder(self.width / self.px_per_mm, self.height / self.px_per_mm, "touch")
            self._started = time.monotonic()
        with self.canvas:
            Color(*App.get_running_app().theme.fg)
            touch.ud["ink"] = Line(points=list(touch.pos), width=2)
        self._sample(touch, pen_down=True)
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        if self.collide_point(*touch.pos):
            touch.ud["ink"].points += list(touch.pos)
            self._sample(touch, pen_down=True)
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        self._sample(touch, pen_down=False)
        App.get_running_app().act("stroke_drawn")
        return True

    def signature(self) -> Signature | None:
        """The strokes so far, or None when there is nothing that counts as a signature."""
        if self._builder is None or self._builder.empty:
            return None
        try:
            return require_acceptable(self._builder.build())
        except SignatureRefused:
            return None

    def clear(self) -> None:
        """Ink and strokes gone (a new form, 'Clear', or the end of the session)."""
        self.canvas.clear()
        self._builder = None

    def _sample(self, touch, pen_down: bool) -> None:
        x_mm = (touch.x - self.x) / self.px_per_mm
        y_mm = (self.top - touch.y) / self.px_per_mm
        self._builder.add(x_mm, y_mm, int((time.monotonic() - self._started) * 1000), pen_down)
