"""The step screens. Each is thin: its layout is in <step>.kv and its buttons call `app.act(...)`.

The speech and focus-navigation layers read the widgets (kiosk/screen_reader.py): titles are
KioskTitle, fields have `field_name`, actions are regular Kivy Buttons.
"""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget


def _shown(widget) -> bool:
    """Neither the widget nor any parent is transparent (the window itself ends the walk)."""
    while isinstance(widget, Widget):
        if widget.opacity <= 0:
            return False
        if widget.parent is widget:
            break
        widget = widget.parent
    return True


class StepScreen(Screen):
    """What it says aloud comes from its widgets (kiosk/screen_reader.py); a step may add `describe(reader)`."""


class AttractScreen(StepScreen):
    pass


class IdentifyScreen(StepScreen):
    pass


class ManualScreen(StepScreen):
    pass


class NotFoundScreen(StepScreen):
    pass


class WaitingScreen(StepScreen):
    pass


class ConfirmScreen(StepScreen):
    pass


class SeeDeskScreen(StepScreen):
    pass


class ReviewScreen(StepScreen):
    pass


class CardAskScreen(StepScreen):
    pass


class CardScanScreen(StepScreen):
    pass


class CardReadingScreen(StepScreen):
    pass


class CardConfirmScreen(StepScreen):
    pass


class CardEditScreen(StepScreen):
    pass


class FormsScreen(StepScreen):
    more_below = BooleanProperty(False)

    def scrolled(self) -> None:
        """The text moved or changed: show the "more below" cue, and tell the flow once the end is shown."""
        scroller = self.ids.get("scroller")
        if scroller is None or not scroller.children:
            return
        fits = scroller.children[0].height <= scroller.height + 1
        at_end = fits or scroller.scroll_y <= 0.005
        self.more_below = not at_end
        app = App.get_running_app()
        if at_end and app.view.step == "forms" and app.view.form_require_scroll and not app.view.form_can_sign:
            app.act("form_scrolled_to_end")


class OfflineScreen(StepScreen):
    pass


class DoneScreen(StepScreen):
    pass
