"""A drawn picture of this kiosk with its scanner where the site says it is, and a licence (front up)
moving onto it: the identify screen's "how to scan", in the theme's colours, no image files."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.app import App
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle, Triangle
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.widget import Widget


class ScannerPicture(Widget):
    position = StringProperty("below-screen-right")
    progress = NumericProperty(0.0)  # 0: the card held away, 1: on the scanner

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._animation = (Animation(progress=1.0, duration=1.4, t="out_quad") + Animation(duration=0.8)
                           + Animation(progress=0.0, duration=0.01))  # fmt: skip
        self._animation.repeat = True
        self._animation.start(self)
        app = App.get_running_app()
        self.bind(pos=self._redraw, size=self._redraw, progress=self._redraw, position=self._redraw)
        app.bind(theme=self._redraw)

    def layout(self) -> dict[str, tuple[float, float, float, float]]:
        """Rectangles (x, y, w, h) of the panel, the scanner and the card, in widget coordinates."""
        h = max(1.0, self.height)
        screen_h = 0.62 * h
        screen_w = screen_h * 0.5625
        screen = (self.center_x - screen_w / 2, self.y + 0.34 * h, screen_w, screen_h)
        sw, sh = 0.30 * h, 0.12 * h
        side = self.position.rsplit("-", 1)[-1]
        if self.position.startswith("below"):
            x = {"left": screen[0], "right": screen[0] + screen_w - sw, "center": self.center_x - sw / 2}[side]
            scanner = (x, self.y + 0.08 * h, sw, sh)
        else:
            x = screen[0] + screen_w + 0.08 * h if self.position.startswith("right") else screen[0] - 0.08 * h - sw
            scanner = (x, screen[1] + 0.1 * h, sw, sh)
        cw, ch = 0.26 * h, 0.165 * h
        rest_y = scanner[1] + sh + 0.01 * h
        lift = 0.22 * h * (1 - self.progress)
        card = (scanner[0] + (sw - cw) / 2 + (0.18 * h * (1 - self.progress) if side == "left" else -0.18 * h * (1 - self.progress)),
                rest_y + lift, cw, ch)  # fmt: skip
        return {"screen": screen, "scanner": scanner, "card": card}

    def _redraw(self, *_args) -> None:
        theme = App.get_running_app().theme
        parts = self.layout()
        stroke = max(2.0, theme.mm(0.7))
        self.canvas.clear()
        with self.canvas:
            x, y, w, h = parts["screen"]
            Color(*theme.outline)
            Line(rounded_rectangle=(x, y, w, h, theme.mm(2)), width=stroke)
            Color(*theme.track)
            Rectangle(pos=(x + w * 0.1, y + h * 0.1), size=(w * 0.8, h * 0.8))
            x, y, w, h = parts["scanner"]
            Color(*theme.primary)
            RoundedRectangle(pos=(x, y), size=(w, h), radius=[theme.mm(1.5)])
            Color(*theme.primary_text)
            Rectangle(pos=(x + w * 0.12, y + h * 0.6), size=(w * 0.76, h * 0.16))  # the scanner's window
            x, y, w, h = parts["card"]
            Color(*theme.surface)
            RoundedRectangle(pos=(x, y), size=(w, h), radius=[theme.mm(1.5)])
            Color(*theme.fg)
            Line(rounded_rectangle=(x, y, w, h, theme.mm(1.5)), width=stroke)
            Rectangle(pos=(x + w * 0.08, y + h * 0.2), size=(w * 0.28, h * 0.6))  # the photo: the front
            for row in range(3):
                Rectangle(pos=(x + w * 0.44, y + h * (0.62 - 0.2 * row)), size=(w * 0.46, h * 0.07))
            sx, sy, sw, sh = parts["scanner"]
            arrow_x = sx + sw / 2
            Color(*theme.primary)
            Triangle(points=[arrow_x - theme.mm(3), sy + sh + theme.mm(5), arrow_x + theme.mm(3), sy + sh + theme.mm(5),
                             arrow_x, sy + sh + theme.mm(1)])  # fmt: skip
