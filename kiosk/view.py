"""What the screens show, as words in the patient's language: built from the flow after every change.

Screens bind to one `View` and never reach into the flow, so everything a screen can display is here,
and a wiped flow yields a view with nothing of the patient in it.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from typing import Callable, Mapping

from lobby_core import locale
from lobby_core.contract import OnFileHints

from .flow import CARD_SHOWN, PROGRESS_STEPS, Flow, Step
from .i18n import Catalogues


@dataclass(frozen=True)
class SiteWords:
    """Patient-facing words from the site config: per-language names of rooms, the welcome line."""

    rooms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    welcome_line: Mapping[str, str] = field(default_factory=dict)
    default_language: str = "en"

    @staticmethod
    def _pick(names: Mapping[str, str], language: str, default: str) -> str:
        return names.get(language) or names.get(default) or next(iter(names.values()), "")

    def room(self, name: str, language: str) -> str:
        return self._pick(self.rooms[name], language, self.default_language) if name in self.rooms else name

    def welcome(self, language: str) -> str:
        return self._pick(self.welcome_line, language, self.default_language) if self.welcome_line else ""


@dataclass(frozen=True)
class View:
    catalogues: Catalogues
    language: str
    step: str = Step.ATTRACT.value
    clinic_name: str = ""
    welcome_line: str = ""
    progress: int = 0  # 1..progress_total on the patient's steps, 0 elsewhere
    progress_total: int = PROGRESS_STEPS
    progress_label: str = ""
    languages: list[tuple[str, str]] = field(default_factory=list)  # (code, own name), suggested first
    suggested_language: str = ""  # the ID card's or the patient record's language, when the site offers it
    now_calling: str = ""
    waiting: str = ""
    notice: str = ""
    help: str = ""
    idle_warning: str = ""
    offline_banner: str = ""
    scanner_offline: bool = False
    typed_family: str = ""
    typed_birth: str = ""
    typing_focus: str = "family"
    typed_birth_readback: str = ""  # "March 14, 1956" once the date is complete
    allowed_digits: str = "0123456789"
    birth_only: bool = False  # a reminder QR was scanned: the birth date is all we need
    not_found_lines: list[str] = field(default_factory=list)
    desk_title: str = ""
    show_again: str = ""  # an unprinted ticket number the welcome screen offers to show again
    confirm_name: str = ""
    confirm_when: str = ""
    review_lines: list[str] = field(default_factory=list)
    form_title: str = ""
    form_text: str = ""
    form_progress: str = ""
    form_may_decline: bool = False
    form_number: int = 0
    form_require_scroll: bool = False
    form_can_sign: bool = True
    ticket: str = ""
    ticket_title: str = ""  # "You're checked in", or "You are already checked in: A-014"
    ticket_position: str = ""  # "3 people before you"
    ticket_wait: str = ""
    ticket_instruction: str = ""
    ticket_on_screen: bool = False  # no printer: the number is shown large
    ticket_insurance: str = ""  # "Please see the front desk about your insurance", when the agent flags it
    card_values: Mapping[str, str] = field(default_factory=dict)  # on "the card's fields": field -> value shown
    card_review: Mapping[str, bool] = field(default_factory=dict)  # field -> the desk will check it
    card_editing: str = ""  # the field on the keyboard
    card_typed: str = ""

    def t(self, key: str, **values: object) -> str:
        return self.catalogues.text(self.language, key, **values)

    def card_value(self, name: str) -> str:
        return self.card_values.get(name, "")

    def card_check(self, name: str) -> str:
        """The mark under a field the desk will check, or ''."""
        return self.t("card.desk_checks") if self.card_review.get(name) else ""


def build_view(flow: Flow, catalogues: Catalogues, clinic_name: str, timezone: str = "UTC",
               words: SiteWords = SiteWords()) -> View:  # fmt: skip
    language = flow.language
    suggested = suggested_language(flow)
    text = lambda key, **values: catalogues.text(language, key, **values)  # noqa: E731
    fields: dict[str, object] = dict(
        catalogues=catalogues,
        language=language,
        step=flow.step.value,
        clinic_name=clinic_name,
        languages=_languages_offered(flow, catalogues, suggested),
        suggested_language=suggested or "",
        notice=text(flow.notice) if flow.notice else "",
        help={"sent": text("help.sent"), "unreachable": text("help.unreachable")}.get(flow.help, ""),
        idle_warning=text("idle.countdown", seconds=flow.idle_warning_left) if flow.idle_warning_left else "",
        offline_banner="" if flow.agent_online else text("common.offline_banner"),
        scanner_offline=not flow.scanner_usable,
        welcome_line=words.welcome(language),
    )
    if flow.progress:
        fields.update(
            progress=flow.progress,
            progress_label=text("progress.step", number=catalogues.number(language, flow.progress),
                                total=catalogues.number(language, PROGRESS_STEPS)),
        )  # fmt: skip
    again = flow.ticket_to_show_again
    if again is not None:
        fields["show_again"] = again.ticket
    if flow.board is not None:
        fields["now_calling"] = "  ".join(f"{call.ticket} {words.room(call.room, language)}".strip() for call in flow.board.now_calling)
        fields["waiting"] = text("attract.waiting", tickets="  ".join(flow.board.waiting[:12])) if flow.board.waiting else ""
    session = flow.session
    if flow.step in (Step.MANUAL, Step.NOT_FOUND):
        born = flow.typed_birth_date
        fields.update(
            typed_family=session.typed.family,
            typed_birth=catalogues.fill_date_pattern(language, session.typed.birth_digits),
            typing_focus=session.typed.focus,
            typed_birth_readback=catalogues.date(language, born) if born else "",
            allowed_digits=flow.allowed_digits,
            birth_only=bool(session.reminder_token),
        )
        if flow.step is Step.NOT_FOUND:
            lines = [] if session.reminder_token else [text("not_found.family", family=session.typed.family)]
            lines.append(text("not_found.birth", date=catalogues.date(language, born) if born else session.typed.birth_digits))
            fields["not_found_lines"] = lines
    if flow.step is Step.SEE_DESK:
        fields["desk_title"] = text("see_desk.go_to_desk" if flow.desk_call == "unreachable" else "see_desk.coming")
    appointment = session.appointment
    if appointment is not None and flow.step in (Step.CONFIRM, Step.REVIEW, Step.FORMS):
        start = appointment.start.astimezone(zoneinfo.ZoneInfo(timezone)) if appointment.start.tzinfo else appointment.start
        fields.update(
            confirm_name=appointment.display_name,
            confirm_when=text("confirm.when", time=catalogues.time(language, start), location=words.room(appointment.location, language)),
        )
    if flow.step is Step.REVIEW:
        fields["review_lines"] = review_lines(flow.on_file_hints, text)
    form = flow.current_form
    if form is not None:
        form_language = flow.form_language(form)
        fields.update(
            form_title=form.title.get(form_language) or next(iter(form.title.values()), ""),
            form_text=form.text[form_language],
            form_progress=text("forms.progress", number=session.form_index + 1, total=len(appointment.forms_due)),
            form_may_decline=form.may_decline,
            form_number=session.form_index + 1,
            form_require_scroll=form.require_scroll_to_end,
            form_can_sign=flow.can_sign,
        )
    if flow.step in (Step.CARD_CONFIRM, Step.CARD_EDIT):
        fields["card_values"] = {name: flow.card_value(name) for name in CARD_SHOWN}
        fields["card_review"] = {name: flow.card_needs_review(name) for name in CARD_SHOWN}
    if flow.step is Step.CARD_EDIT:
        fields.update(card_editing=session.card_editing, card_typed=session.card_typed)
    ticket = flow.ticket
    if flow.step is Step.DONE and ticket is not None:
        fields["ticket"] = ticket.ticket
        fields["ticket_on_screen"] = ticket.on_screen
        fields["ticket_title"] = text("done.already", ticket=ticket.ticket) if ticket.already else text("done.title")
        if not ticket.offline and not (ticket.already and ticket.position == 0):  # already called: no queue to count
            ahead = max(0, ticket.position - 1)
            key = "done.ahead_none" if ahead == 0 else "done.ahead_one" if ahead == 1 else "done.ahead_many"
            fields["ticket_position"] = text(key, count=catalogues.number(language, ahead))
            minutes = ticket.estimated_wait_min
            if ahead:  # "You are next" says it all
                fields["ticket_wait"] = text("done.wait", minutes=catalogues.number(language, minutes)) if minutes else text("done.wait_short")
        instructions = [text("done.on_screen") if ticket.on_screen else text("done.take")]
        if ticket.offline:
            instructions.append(text("done.offline"))
        fields["ticket_instruction"] = " ".join(instructions)
        if ticket.insurance_see_desk:
            fields["ticket_insurance"] = text("done.insurance_see_desk")
    return View(**fields)



def review_lines(hints: OnFileHints, text: Callable[..., str]) -> list[str]:
    """'Street number ending ...12' and the like: what "Is this still right?" shows of the file."""
    lines = []
    if hints.street_ending:
        lines.append(text("review.street_ending", ending=hints.street_ending))
    if hints.phone_ending:
        lines.append(text("review.phone_ending", ending=hints.phone_ending))
    if hints.payer:
        lines.append(text("review.insurance", payer=hints.payer))
    if hints.member_id_ending:
        lines.append(text("review.member_id_ending", ending=hints.member_id_ending))
    return lines


def suggested_language(flow: Flow) -> str | None:
    """The site language the patient's ID card (eGK: German) or record (FHIR Patient.communication) names."""
    identity, appointment = flow.session.identity, flow.session.appointment
    for tag in (appointment.preferred_language if appointment else "", identity.language if identity else ""):
        match = locale.closest(tag, flow.settings.languages)
        if match:
            return match
    return None


def _languages_offered(flow: Flow, catalogues: Catalogues, suggested: str | None) -> list[tuple[str, str]]:
    codes = [code for code in flow.settings.languages if code in catalogues.languages]
    if suggested in codes:
        codes.remove(suggested)
        codes.insert(0, suggested)
    return [(code, catalogues.locale(code).name) for code in codes]
