"""The step screens. Each is thin: its layout is in <step>.kv and its buttons call `app.act(...)`."""

from __future__ import annotations

from kivy.uix.screenmanager import Screen


class StepScreen(Screen):
    """What it says aloud comes from its widgets (kiosk/screen_reader.py); a step may add `describe(reader)`."""


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
