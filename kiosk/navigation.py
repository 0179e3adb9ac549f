"""Operation without touch and without sight: a tactile keypad (EZ-Access keys) and speech, on every screen.

Attached once at the app root, it listens to `Window.on_key_down/up` (a USB HID keypad types key
codes, configured in [kiosk] keypad_keys) and keeps a focus ring over the actionable widgets of what is
showing: an open overlay, else the current screen and the bottom bar, in reading order. Up/down move
the ring, select activates, back goes back, help explains the keys. Holding help: up/down louder/softer,
select faster, back slower. A field is typed with a wheel: up/down choose a letter or digit (spoken
spelled), select adds it, back deletes; digit keys type dates directly.

The first key press, or headphones plugged in, turns speech mode on: each new screen is announced
(what the screen says, then the focused control) and every key says what it did. Speech mode started by
a key ends when the kiosk returns to its welcome screen; headphone mode lasts while they are plugged in.
"""

from __future__ import annotations

from typing import Callable

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics import Color, InstructionGroup, Line
from kivy.uix.modalview import ModalView
from kivy.uix.widget import Widget

from .screen_reader import Reader, actionable, role_of, visible
from .speech import Segment, Utterance

DIGIT_KEYS = {**{48 + n: str(n) for n in range(10)}, **{256 + n: str(n) for n in range(10)}}
HELD_HELP = {"up": "louder", "down": "softer", "select": "faster", "back": "slower"}
DONE = "\x00done"  # the wheel's last item: leave the field
SETTLE_FRAMES = 2


class FocusRing:
    """A yellow-on-black frame drawn over everything (overlays too): visible on any theme."""

    def __init__(self):
        self._group = InstructionGroup()
        self._outer_color, self._inner_color = Color(0, 0, 0, 0), Color(1, 0.85, 0, 0)
        self._outer, self._inner = Line(width=6), Line(width=3)
        for instruction in (self._outer_color, self._outer, self._inner_color, self._inner):
            self._group.add(instruction)
        Window.canvas.after.add(self._group)

    def show(self, widget: Widget | None) -> None:
        if widget is None or widget.get_root_window() is None:
            self._outer_color.a = self._inner_color.a = 0
            return
        x, y = widget.to_window(widget.x, widget.y)
        self._outer.rectangle = (x - 4, y - 4, widget.width + 8, widget.height + 8)
        self._inner.rectangle = (x - 4, y - 4, widget.width + 8, widget.height + 8)
        self._outer_color.a = self._inner_color.a = 1


class Navigator:
    def __init__(self, app, keys: dict[str, int | None], say: Callable[[Utterance], None]):
        self.app = app
        self.reader = Reader(app)
        self._say = say
        self.actions = {code: action for action, code in keys.items() if code is not None}
        self.speech_on = False
        self.headphones = False
        self.focused: Widget | None = None
        self.editing = ""  # the field the wheel types into
        self._wheel: list[str] = []
        self._wheel_at = 0
        self._help_down = False
        self._help_used = False
        self._scope_key: tuple = ()
        self._announce_in = -1
        self._after_action_in = -1
        self._ring: FocusRing | None = None
        self._intro: Utterance = []

    def attach(self) -> "Navigator":
        self._ring = FocusRing()
        Window.bind(on_key_down=self._key_down, on_key_up=self._key_up)
        Clock.schedule_interval(self._frame, 0)
        return self

    # --- modes --------------------------------------------------------------------------------------

    def start_speech(self, why: str) -> None:
        self.speech_on = True
        self._intro = [Segment(self.reader.t(f"speech.on_{why}"))]
        self._announce_in = SETTLE_FRAMES

    def headphones_changed(self, plugged: bool) -> None:
        self.headphones = plugged
        if plugged:
            self.start_speech("headphones")
        elif self.speech_on:
            self.speech_on = False
            self._say([Segment(self.reader.t("speech.off"))])

    # --- what is on screen ---------------------------------------------------------------------------

    def scope(self) -> list[Widget]:
        top = Window.children[0] if Window.children else None
        if isinstance(top, ModalView):
            return [top]
        root = self.app.root
        return [root.ids.steps.current_screen, root.ids.bottom_bar]

    def targets(self) -> list[Widget]:
        return [widget for root in self.scope() for widget in actionable(root)]

    def _default_focus(self, targets: list[Widget]) -> Widget | None:
        own = actionable(self.scope()[0]) or targets
        fields = [w for w in own if role_of(w) == "field"]
        primary = [w for w in own if "Primary" in type(w).__name__]
        return (fields or primary or own or [None])[0]

    def _current(self) -> list[Widget]:
        targets = self.targets()
        if self.focused not in targets:
            self.focused = self._default_focus(targets)
        return targets

    # --- each frame: the ring, screen changes, announcements ---------------------------------------

    def _frame(self, _dt) -> None:
        if self.app.root is None:
            return
        top = Window.children[0] if Window.children else None
        view = self.app.view
        key = (view.step, view.form_number, id(top) if isinstance(top, ModalView) else 0)  # each form is a new page
        if key != self._scope_key:
            came_home = key[0] == "attract" and self._scope_key and self._scope_key[0] != "attract"
            self._scope_key, self.focused, self.editing = key, None, ""
            self._after_action_in = -1  # the new screen's announcement says the focused control
            if came_home and not self.headphones:
                self.speech_on = False
            elif self.speech_on:
                self._announce_in = SETTLE_FRAMES
        if self._announce_in >= 0:
            self._announce_in -= 1
            if self._announce_in < 0:
                self.announce_screen()
        if self._after_action_in >= 0:
            self._after_action_in -= 1
            if self._after_action_in < 0 and self._announce_in < 0:
                self._current()
                self.speak_focus()
        if self._ring is not None:
            self._ring.show(self.focused if (self.speech_on and self.focused is not None and visible(self.focused)) else None)

    def announce_screen(self) -> None:
        self._current()
        words, self._intro = [*self._intro, *self.reader.utterance(self.scope()[0])], []
        if self.focused is not None:
            words += [Segment(self.reader.t("speech.focus")), *self.reader.control(self.focused)]
        self._say(words)

    def speak_focus(self) -> None:
        targets = self._current()
        if self.focused is None:
            return
        where = self.reader.t("speech.position", number=targets.index(self.focused) + 1, total=len(targets))
        self._say([*self.reader.control(self.focused), Segment(where)])

    # --- keys ---------------------------------------------------------------------------------------

    def _key_down(self, _window, key: int, _scancode, _codepoint, _modifiers) -> bool:
        action, digit = self.actions.get(key), DIGIT_KEYS.get(key)
        if action is None and digit is None:
            return False
        self.app.flow.session.touch()  # a key press is someone being there, like a touch
        if action == "help":
            if not self._help_down:
                self._help_down, self._help_used = True, False
            return True
        if self._help_down and action in HELD_HELP:
            self._help_used = True
            self.adjust(HELD_HELP[action])
            return True
        if not self.speech_on:
            self.start_speech("keypad")
            return True
        if action in ("louder", "softer", "faster", "slower"):
            self.adjust(action)
        elif digit is not None:
            self.type_digit(digit)
        elif self.editing:
            self._wheel_key(action)
        elif action in ("up", "down"):
            self.move(-1 if action == "up" else 1)
        elif action == "select":
            self.select()
        elif action == "back":
            self.back()
        return True

    def _key_up(self, _window, key: int, *_args) -> bool:
        if self.actions.get(key) != "help" or not self._help_down:
            return False
        self._help_down = False
        if not self._help_used:
            if not self.speech_on:
                self.start_speech("keypad")
            else:
                self.explain()
        return True

    def move(self, step: int) -> None:
        targets = self._current()
        if not targets:
            return
        index = (targets.index(self.focused) + step) % len(targets) if self.focused in targets else 0
        self.focused = targets[index]
        self.speak_focus()

    def select(self) -> None:
        self._current()
        widget = self.focused
        if widget is None:
            return
        if role_of(widget) == "field":
            self.edit(widget)
            return
        widget.trigger_action(duration=0)
        self._after_action_in = SETTLE_FRAMES  # same screen: say the control as it is now (a new language, bold)

    def back(self) -> None:
        screen = self.scope()[0]
        back = getattr(screen, "ids", {}).get("back")
        if back is not None and visible(back) and not back.disabled:
            back.trigger_action(duration=0)
        else:
            self._say([Segment(self.reader.t("speech.no_back"))])

    def explain(self) -> None:
        key = "speech.help_editing" if self.editing else "speech.help_keys"
        words = [Segment(self.reader.t(key))]
        if not self.editing:
            words += self.reader.utterance(self.scope()[0])
        self._say(words)

    def adjust(self, what: str) -> None:
        engine = self.app.speech
        changed = engine.adjust_volume(1 if what == "louder" else -1) if what in ("louder", "softer") else \
            engine.adjust_rate(1 if what == "faster" else -1)  # fmt: skip
        self._say([Segment(self.reader.t(f"speech.{what}" if changed else "speech.at_limit"))])

    # --- typing with the wheel and the digit keys ---------------------------------------------------

    def edit(self, field: Widget) -> None:
        self.editing = field.field_name
        self.app.act("focus", field.field_name)
        digits = field.field_name == "birth"
        keys = [getattr(w, "key", "") for w in self.scope()[0].walk(restrict=True)]
        if digits:
            self._wheel = sorted({k for k in keys if k.isdigit()}) or list("0123456789")
        else:
            letters = sorted({k for k in keys if k.isalpha()})
            numbers = sorted({k for k in keys if k.isdigit()}) if field.field_name == "card_value" else []  # card ids
            self._wheel = letters + numbers + sorted({k for k in keys if k and not k.isalnum()}) + [" "]
        self._wheel.append(DONE)
        self._wheel_at = 0
        intro = self.reader.t("speech.editing_date" if digits else "speech.editing_name")
        self._say([Segment(intro), *self.reader.field_value(field, spelled=True), Segment(self.reader.t("speech.wheel_at")), *self._wheel_item()])

    def _wheel_item(self) -> Utterance:
        item = self._wheel[self._wheel_at]
        if item == DONE:
            return [Segment(self.reader.t("speech.wheel_done"))]
        if item == " ":
            return [Segment(self.reader.t("manual.space"))]
        return [Segment(item, spell=True)]

    def _wheel_key(self, action: str) -> None:
        field = self.focused
        if action in ("up", "down"):
            self._wheel_at = (self._wheel_at + (-1 if action == "up" else 1)) % len(self._wheel)
            self._say(self._wheel_item())
        elif action == "select":
            item = self._wheel[self._wheel_at]
            if item == DONE:
                self.finish_editing()
            else:
                self._type(item)
        elif action == "back":
            if not self._typed_value():
                self.finish_editing()
                return
            self.app.act("backspace")
            self._say([Segment(self.reader.t("speech.deleted")), *self.reader.field_value(field, spelled=True)])
        elif action == "help":
            self.explain()

    def type_digit(self, digit: str) -> None:
        birth = next((w for w in self.targets() if getattr(w, "field_name", "") == "birth"), None)
        if birth is None:
            return
        if self.editing != "birth":
            self.focused = birth
            self.edit(birth)
        self._type(digit)

    def _type(self, char: str) -> None:
        self.app.act("key", char)
        spoken = [Segment(self.reader.t("manual.space"))] if char == " " else [Segment(char, spell=True)]
        value = self.reader.field_value(self.focused, spelled=True)
        if self.editing == "birth" and len(self._typed_value()) == 8:
            self.finish_editing(prefix=[*spoken, Segment(".")])
            return
        self._say([*spoken, Segment(self.reader.t("speech.added")), *value])

    def _typed_value(self) -> str:
        if self.editing == "card_value":
            return self.app.flow.session.card_typed
        typed = self.app.flow.session.typed
        return typed.birth_digits if self.editing == "birth" else typed.family

    def finish_editing(self, prefix: Utterance = ()) -> None:
        """Leave the field and move on to the next control, saying what the field now holds."""
        field = self.focused
        value = self.reader.field_value(field, spelled=True)
        self.editing = ""
        if getattr(field, "field_name", "") == "family" and self.app.view.step == "manual" and self._typed_value():
            self.app.act("next_field")  # one field at a time, in the same place: it is now the birth date
            self._say([*prefix, *value, Segment(self.reader.t("speech.next")), *self.reader.control(field)])
            return
        targets = self._current()
        self.focused = self._after(field, targets)
        self._say([*prefix, *value, Segment(self.reader.t("speech.next")), *self.reader.control(self.focused)])

    def _after(self, field: Widget, targets: list[Widget]) -> Widget | None:
        """After a field: the next field still empty, else the screen's primary button, else what follows."""
        later = targets[targets.index(field) + 1 :] if field in targets else targets
        for widget in later:
            if role_of(widget) == "field" and not self.reader.field_value_typed(widget):
                return widget
        primary = [w for w in actionable(self.scope()[0]) if "Primary" in type(w).__name__]
        return (primary or later or targets or [None])[0]
