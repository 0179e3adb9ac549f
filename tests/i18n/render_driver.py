"""Render the kiosk's welcome and identify words in every language, in one Kivy process, with the kiosk's
own label class (kiosk.screens.shaped_text: its font choice and shaping), and save each as a PNG.

    xvfb-run -a python tests/i18n/render_driver.py OUT_DIR LANG...

Writes OUT_DIR/renders.json: per language and message, the logical text, the drawn text, the font file
and face index used and the PNG. Each message is also drawn as the same number of missing-glyph boxes
in the same font (`notdef`), for the test to tell glyphs from tofu.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
OUT, LANGUAGES = Path(sys.argv[1]), sys.argv[2:]
MISSING = "\u0378"  # an unassigned code point no font maps: drawn as the .notdef box

from kivy.config import Config  # noqa: E402

Config.set("graphics", "width", "900")
Config.set("graphics", "height", "400")

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.text import LabelBase  # noqa: E402
from kivy.uix.floatlayout import FloatLayout  # noqa: E402

from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR  # noqa: E402
from kiosk import fonts  # noqa: E402
from kiosk.i18n import Catalogues  # noqa: E402
from kiosk.screens.shaped_text import ShapedLabel  # noqa: E402

KEYS = ("attract.welcome", "identify.title", "attract.touch", "identify.type")


class RenderApp(App):
    def build(self):
        self.catalogues = Catalogues.load(DEFAULT_TRANSLATIONS_DIR)
        self.jobs = [(lang, key) for lang in LANGUAGES for key in (*KEYS, "endonym")]
        self.results: list[dict] = []
        root = FloatLayout()
        self.label = ShapedLabel(size_hint=(None, None), size=(860, 160), pos=(20, 220), font_size=34,
                                 color=(0, 0, 0, 1), halign="left", valign="middle", text_size=(860, 160))  # fmt: skip
        self.boxes = ShapedLabel(size_hint=(None, None), size=(860, 160), pos=(20, 20), font_size=34,
                                 color=(0, 0, 0, 1), halign="center", valign="middle", text_size=(860, 160))  # fmt: skip
        root.add_widget(self.label)
        root.add_widget(self.boxes)
        Clock.schedule_once(self.next_job, 0.5)
        return root

    def next_job(self, _dt) -> None:
        if not self.jobs:
            (OUT / "renders.json").write_text(json.dumps(self.results, ensure_ascii=False, indent=1))
            self.stop()
            return
        language, key = self.jobs[0]
        text = self.catalogues.locale(language).name if key == "endonym" else self.catalogues.text(language, key, clinic="Riverside")
        self.label.language = self.boxes.language = language
        self.label.text = text
        self.boxes.text = MISSING * len(text.replace(" ", ""))
        self.boxes.font_name = self.label.font_name
        Clock.schedule_once(self.capture, 0.15)

    def capture(self, _dt) -> None:
        language, key = self.jobs.pop(0)
        stem = f"{language}-{key}"
        self.label.export_to_png(str(OUT / f"{stem}.png"))
        self.boxes.export_to_png(str(OUT / f"{stem}-notdef.png"))
        face = fonts.face_for(language, self.label.logical_text)
        self.results.append({
            "language": language, "key": key, "logical": self.label.logical_text, "drawn": self.label.text,
            "font_name": self.label.font_name, "font_file": LabelBase._fonts[self.label.font_name][0],
            "face": face.name, "halign": self.label.halign, "png": f"{stem}.png", "notdef_png": f"{stem}-notdef.png",
        })  # fmt: skip
        Clock.schedule_once(self.next_job, 0)


if __name__ == "__main__":
    from kivy.core.window import Window

    Window.clearcolor = (1, 1, 1, 1)
    RenderApp().run()
