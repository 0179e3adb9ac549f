"""What a screen says, as words to speak: built from the widget tree, so it works on every screen.

`describe(root, app)` walks the widgets in reading order (the order the layout lists them) and sorts
each visible one into a role: the title, content, a field (a widget with `field_name`) with its value,
or an action (a button). A field's label is its `speak_label` when it has one, else the text just
before it. A widget's `speak_role` overrides the guess; `speak_role = "keys"` keeps a
whole on-screen keyboard out (the keypad has its letter wheel instead). Values are spoken as meant,
never as masks: a birth date being typed is "March 14, 1952", "•••• 42" is "ending in 42", a ticket
number is spelled. A screen with a `describe(app)` method of its own overrides all of this.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from .flow import DATE_ORDERS, birth_date_from_digits
from .speech import Segment, Utterance

MARKUP = re.compile(r"\[/?(?:b|i|u|s|sub|sup|color|size|font|ref|anchor)(?:=[^\]]*)?\]")
TICKET = re.compile(r"\b[A-Z][A-Z0-9]{0,3}-\d{1,4}\b")
MASKED = re.compile(r"[*•●xX]{2,}[\s-]?(\d{2,4})\b")
ALL_HIDDEN = re.compile(r"^\*+$")
SKIPPED_ROLES = {"keys", "skip"}


@dataclass(frozen=True)
class Item:
    role: str  # "title", "content", "field", "action"
    widget: Widget
    words: Utterance
    label: Utterance = field(default_factory=list)  # a field's own label (the text just before it)


@dataclass(frozen=True)
class Description:
    title: Utterance
    content: list[Utterance]
    fields: list[Item]
    actions: list[Item]


def visible(widget: Widget) -> bool:
    return widget.opacity > 0 and widget.width > 2 and widget.height > 1


def reading_order(root: Widget) -> Iterator[Widget]:
    """Visible widgets in layout order, skipping hidden branches and on-screen keyboards."""
    for child in reversed(root.children):
        if not visible(child) or getattr(child, "speak_role", "") in SKIPPED_ROLES:
            continue
        yield child
        yield from reading_order(child)


def role_of(widget: Widget) -> str:
    role = getattr(widget, "speak_role", "")
    if role:
        return role
    if hasattr(widget, "field_name"):
        return "field"
    if isinstance(widget, Button):
        return "action"
    if isinstance(widget, Label):
        return "title" if "Title" in type(widget).__name__ else "content"
    return ""


def actionable(root: Widget) -> list[Widget]:
    """What the keypad can move to: fields and enabled buttons, in reading order."""
    return [w for w in reading_order(root) if role_of(w) in ("field", "action") and not w.disabled]


class Reader:
    """Words for widgets in the patient's language (`app.view.t`) with the flow's raw values for fields."""

    def __init__(self, app):
        self.app = app

    def t(self, key: str, **values) -> str:
        return self.app.view.t(key, **values)

    # --- text ---------------------------------------------------------------------------------------

    def words(self, text: str) -> Utterance:
        text = MARKUP.sub("", text).strip()
        text = re.sub(r"^>\s*", "", text)
        text = re.sub(r"(?m)^#+\s*", "", text)  # a form's markdown headings: not "hash"
        text = ALL_HIDDEN.sub(lambda m: self.t("speech.digits_typed", count=len(m.group(0))), text)
        text = MASKED.sub(lambda m: self.t("speech.ending_in", digits=m.group(1)), text)
        pattern = self.app.catalogues.date_entry_pattern(self.app.view.language)
        if pattern and pattern in text:
            text = text.replace(pattern, self._date_order_words())
        text = re.sub(r"\s*\(\s*([^)]*)\)", r", \1", text)  # "(month, day, year)" is said as a pause
        segments: Utterance = []
        last = 0
        for match in TICKET.finditer(text):
            segments.append(Segment(text[last : match.start()].strip()))
            segments.append(Segment(match.group(0), spell=True))
            last = match.end()
        segments.append(Segment(text[last:].strip()))
        return [segment for segment in segments if segment.text]

    def _date_order_words(self) -> str:
        order = self.app.catalogues.locale(self.app.view.language).date_order
        return ", ".join(self.t(f"speech.date_part.{letter}") for letter in order)

    # --- fields --------------------------------------------------------------------------------------

    def field_value(self, widget: Widget, spelled: bool = False) -> Utterance:
        """A field's value as meant; `spelled` adds a typed name letter by letter (while typing it)."""
        speak = FIELD_VALUES.get(getattr(widget, "field_name", ""))
        if speak is not None:
            return speak(self, spelled)
        return self.words(getattr(widget, "text", "")) or [Segment(self.t("speech.empty"))]

    def field_value_typed(self, widget: Widget) -> bool:
        typed = self.app.flow.session.typed
        name = getattr(widget, "field_name", "")
        return bool({"family": typed.family.strip(), "birth": typed.birth_digits}.get(name, getattr(widget, "text", "")))

    def name_value(self, spelled: bool) -> Utterance:
        name = self.app.flow.session.typed.family
        if not name.strip():
            return [Segment(self.t("speech.empty"))]
        return [Segment(name), Segment(name.replace(" ", ""), spell=True)] if spelled else [Segment(name)]

    def birth_value(self, _spelled: bool) -> Utterance:
        typed = self.app.flow.session.typed.birth_digits
        language = self.app.view.language
        catalogues = self.app.catalogues
        order = catalogues.locale(language).date_order
        if not typed:
            return [Segment(self.t("speech.empty"))]
        born = birth_date_from_digits(typed, order, dt.date.today())
        if born is not None:
            return [Segment(catalogues.date(language, born))]
        parts, start = [], 0
        for letter, width in zip(order, DATE_ORDERS[order]):
            chunk = typed[start : start + width]
            start += width
            if not chunk:
                break
            if len(chunk) == width and letter == "M" and 1 <= int(chunk) <= 12:
                parts.append(catalogues.month_name(language, int(chunk)))
            elif len(chunk) == width:
                parts.append(f"{self.t(f'speech.date_part.{letter}')} {int(chunk)}")
            else:
                parts.append(f"{self.t(f'speech.date_part.{letter}')} {chunk}")
        return [Segment(", ".join(parts)), Segment(", " + self.t("speech.date_unfinished"))]

    # --- widgets and screens ------------------------------------------------------------------------

    def control(self, widget: Widget) -> Utterance:
        """One focused control: 'Find my appointment, button' or 'Last name, edit field, R O S S I'."""
        if role_of(widget) == "field":
            item = next((i for i in self.items(_screen_of(widget)) if i.widget is widget), None)
            label = item.label if item else []
            return [*label, Segment(self.t("speech.edit_field")), *self.field_value(widget, spelled=True)]
        return [*self.words(_shown_text(widget)), Segment(self.t("speech.button"))]

    def items(self, root: Widget) -> list[Item]:
        items: list[Item] = []
        for widget in reading_order(root):
            role = role_of(widget)
            if role == "field":
                own = getattr(widget, "speak_label", "")
                if own:
                    label = self.words(own)
                else:
                    label = items.pop().words if items and items[-1].role == "content" else []
                items.append(Item("field", widget, self.field_value(widget), label))
            elif role in ("title", "content", "action"):
                if role == "action" and widget.disabled:
                    continue
                words = self.words(_shown_text(widget))
                if words:
                    items.append(Item(role, widget, words))
        return items

    def describe(self, root: Widget) -> Description:
        own = getattr(root, "describe", None)
        if callable(own):
            return own(self)
        items = self.items(root)
        titles = [item for item in items if item.role == "title"]
        return Description(
            title=titles[0].words if titles else [],
            content=[item.words for item in items if item.role == "content" or (item.role == "title" and item is not titles[0])],
            fields=[item for item in items if item.role == "field"],
            actions=[item for item in items if item.role == "action"],
        )

    def utterance(self, root: Widget) -> Utterance:
        """Title, content, each field with its value, then the actions: what 'Read aloud' says."""
        description = self.describe(root)
        out: Utterance = [*description.title, Segment(".")] if description.title else []
        for content in description.content:
            out += [*content, Segment(".")]
        for item in description.fields:
            out += [*item.label, Segment(self.t("speech.edit_field")), *item.words, Segment(".")]
        if description.actions:
            names = "; ".join(" ".join(s.text for s in item.words) for item in description.actions)
            out.append(Segment(self.t("speech.actions", actions=names)))
        return _tidy(out)


def _tidy(utterance: Utterance) -> Utterance:
    """No '. .' where a sentence already ended with its own mark."""
    out: Utterance = []
    for segment in utterance:
        if segment.text == "." and out and out[-1].text[-1:] in ".?!:;。？！":
            continue
        out.append(segment)
    return out


def _screen_of(widget: Widget) -> Widget:
    from kivy.uix.modalview import ModalView
    from kivy.uix.screenmanager import Screen

    node = widget
    while node.parent is not None and node.parent is not node and not isinstance(node, (Screen, ModalView)):
        node = node.parent
    return node


FIELD_VALUES: dict[str, Callable[[Reader, bool], Utterance]] = {
    "family": Reader.name_value,
    "birth": Reader.birth_value,
}


def _shown_text(widget: Widget) -> str:
    """The words a widget shows, in reading order (shaped Arabic labels keep it in `logical_text`)."""
    return getattr(widget, "logical_text", "") or getattr(widget, "text", "")
