"""What floats above the steps: the idle warning, the help notice, the staff status overlay, the bottom
bar's language buttons, and the hidden corner that opens the staff overlay on a long press."""

from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView
from kivy.uix.widget import Widget

LONG_PRESS_S = 2.0


class IdleWarning(ModalView):
    pass


class HelpNotice(ModalView):
    pass


class StaffOverlay(ModalView):
    pin = StringProperty("")
    problem = StringProperty("")
    unlocked = StringProperty("")

    def press(self, digit: str) -> None:
        if len(self.pin) < 8:
            self.pin += digit
        self.problem = ""

    def enter(self) -> None:
        app = App.get_running_app()
        if app.staff_unlock(self.pin):
            self.unlocked = "yes"
        else:
            self.problem = app.view.t("staff.wrong_pin")
        self.pin = ""

    def on_dismiss(self) -> None:
        self.pin, self.unlocked, self.problem = "", "", ""


class LanguageButtons(BoxLayout):
    """One button per site language, each labelled in its own language; the chosen one is bold + underlined."""

    def on_kv_post(self, _base_widget) -> None:
        app = App.get_running_app()
        for code, name in app.view.languages:
            button = Factory.BarButton(text=name)
            button.language = code
            button.bind(on_release=lambda button: app.act("choose_language", button.language))
            self.add_widget(button)
        app.bind(view=lambda _app, view: self.show_chosen(view.language))
        self.show_chosen(app.view.language)

    def show_chosen(self, language: str) -> None:
        names = dict(App.get_running_app().view.languages)
        for button in self.children:
            name = names[button.language]
            button.text = f"[b][u]{name}[/u][/b]" if button.language == language else name

    def button_for(self, language: str):
        return next(button for button in self.children if button.language == language)


class StaffCorner(Widget):
    """An invisible corner: a long press opens the staff overlay (then the PIN decides)."""

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        touch.ud["staff_corner"] = Clock.schedule_once(lambda _dt: StaffOverlay().open(), LONG_PRESS_S)
        return True

    def on_touch_up(self, touch):
        pending = touch.ud.pop("staff_corner", None)
        if pending is not None:
            pending.cancel()
        return False
