"""The on-screen keyboard and date pad: big keys, no system keyboard, every key a flow call."""

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


class DigitKeys(GridLayout):
    speak_role = "keys"

    def on_kv_post(self, _base_widget) -> None:
        for char in DIGITS:
            self.add_widget(_key(char))
        self.add_widget(Factory.Widget())
        self.add_widget(_key("0"))


class FieldButton(Factory.Button):
    """A typed field: touching it moves typing there; the focused one is framed and marked with '>'."""

    field_name = StringProperty("")
    focused = BooleanProperty(False)


def _key(char: str):
    button = Factory.KioskButton(text=char)
    button.key = char
    button.bind(on_release=lambda b: App.get_running_app().act("key", b.key))
    return button
