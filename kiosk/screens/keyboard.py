"""The on-screen keyboard and date pad: big keys, no system keyboard, every key a flow call.

The date pad enables only the digits that can still lead to a real past date (kiosk.flow
allowed_birth_digits), so a finished date is always valid.
"""

from __future__ import annotations

from kivy.app import App
from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.gridlayout import GridLayout

LETTER_ROWS = ["QWERTYUIOP", "ASDFGHJKLÑ", "ZXCVBNMÁÉÍ", "ÓÚÜ'-"]
DIGITS = "123456789"


class LetterKeys(GridLayout):
    speak_role = "keys"  # read aloud skips the keys; the keypad types with its letter wheel

    def on_kv_post(self, _base_widget) -> None:
        for char in "".join(LETTER_ROWS):
            self.add_widget(_key(char))


class NumberKeys(GridLayout):
    """A row of digits above the letters, for the insurance card's ids (member and group numbers)."""

    speak_role = "keys"

    def on_kv_post(self, _base_widget) -> None:
        for char in "1234567890":
            self.add_widget(_key(char))


class DigitKeys(GridLayout):
    speak_role = "keys"

    def on_kv_post(self, _base_widget) -> None:
        for char in DIGITS:
            self.add_widget(_key(char))
        self.add_widget(Factory.Widget())
        self.add_widget(_key("0"))
        app = App.get_running_app()
        app.bind(view=lambda _app, view: self.allow(view.allowed_digits))
        self.allow(app.view.allowed_digits)

    def allow(self, digits: str) -> None:
        for key in self.children:
            if hasattr(key, "key"):
                key.disabled = key.key not in digits


class FieldButton(Factory.Button):
    """The field being typed into, framed in the focus colour, right above the keys."""

    field_name = StringProperty("")
    focused = BooleanProperty(True)
    speak_label = StringProperty("")  # what read aloud calls the field when no label is shown before it


def _key(char: str):
    button = Factory.KeyButton(text=char)
    button.key = char
    button.bind(on_release=lambda b: App.get_running_app().act("key", b.key))
    return button
