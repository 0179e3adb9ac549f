"""The step screens. Each is thin: its layout is in <step>.kv and its buttons call `app.act(...)`."""

from __future__ import annotations

from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen


class StepScreen(Screen):
    def spoken_text(self) -> str:
        """What 'Read aloud' says: every label on the screen, top to bottom."""
        labels = [w for w in self.walk(restrict=True) if isinstance(w, Label) and w.text.strip() and w.opacity > 0]
        labels.sort(key=lambda w: -w.to_window(*w.pos)[1])
        return ". ".join(w.text.strip() for w in labels)


class AttractScreen(StepScreen):
    pass


class IdentifyScreen(StepScreen):
    pass


class ManualScreen(StepScreen):
    pass


class WaitingScreen(StepScreen):
    pass


class ConfirmScreen(StepScreen):
    pass


class SeeDeskScreen(StepScreen):
    pass


class ReviewScreen(StepScreen):
    pass


class FormsScreen(StepScreen):
    pass


class OfflineScreen(StepScreen):
    pass


class DoneScreen(StepScreen):
    pass
