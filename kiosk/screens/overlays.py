"""What floats above the steps: the idle warning, the help notice, the staff status overlay, the bottom
bar's language buttons and language picker, and the hidden corner that opens the staff overlay on a long press."""

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


INLINE_LANGUAGES = 3  # more than this and the bar shows one button that opens the picker grid


class LanguageButtons(BoxLayout):
    """The bottom bar's language choice, each language named in its own script. Up to three sit in the bar
    as buttons of their own; with more, one button (the chosen language, "+N others") opens LanguagePicker.
    A language suggested by the ID card or the schedule comes first (View.languages is in that order)."""

    def on_kv_post(self, _base_widget) -> None:
        app = App.get_running_app()
        if len(app.view.languages) <= INLINE_LANGUAGES:
            for code, name in app.view.languages:
                button = Factory.BarButton(text=name, language=code)
                button.bind(on_release=lambda button: app.act("choose_language", button.language))
                self.add_widget(button)
        else:
            opener = Factory.BarButton()
            opener.bind(on_release=lambda _button: self.open_picker())
            self.add_widget(opener)
        self.picker: LanguagePicker | None = None
        app.bind(view=lambda _app, view: self.show_chosen(view.language))
        self.show_chosen(app.view.language)

    @property
    def opens_picker(self) -> bool:
        return len(App.get_running_app().view.languages) > INLINE_LANGUAGES

    def show_chosen(self, language: str) -> None:
        languages = App.get_running_app().view.languages
        names = dict(languages)
        if self.opens_picker:
            opener = self.children[0]
            opener.language = language
            opener.text = f"[b]{names.get(language, language)}[/b]  +{len(languages) - 1}"
            return
        for button in self.children:
            name = names[button.language]
            button.text = f"[b][u]{name}[/u][/b]" if button.language == language else name

    def open_picker(self) -> "LanguagePicker":
        self.picker = LanguagePicker()
        self.picker.open()
        return self.picker

    def button_for(self, language: str):
        if self.opens_picker:
            picker = self.picker if self.picker is not None and self.picker.parent else self.open_picker()
            return picker.button_for(language)
        return next(button for button in self.children if button.language == language)


class LanguagePicker(ModalView):
    """Every site language as a large button in a scrolling grid, in the order of View.languages."""

    def on_kv_post(self, _base_widget) -> None:
        app = App.get_running_app()
        grid = self.ids.grid
        for code, name in app.view.languages:
            chosen = code == app.view.language
            button = Factory.PickerButton(text=f"[b][u]{name}[/u][/b]" if chosen else name, language=code)
            button.bind(on_release=lambda button: self.choose(button.language))
            grid.add_widget(button)

    def choose(self, language: str) -> None:
        App.get_running_app().act("choose_language", language)
        self.dismiss()

    def button_for(self, language: str):
        return next(button for button in self.ids.grid.children if button.language == language)


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
