"""What the screens show, as words in the patient's language: built from the flow after every change.

Screens bind to one `View` and never reach into the flow, so everything a screen can display is here,
and a wiped flow yields a view with nothing of the patient in it.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field

from lobby_core import locale

from .flow import Flow, Step
from .i18n import Catalogues


@dataclass(frozen=True)
class View:
    catalogues: Catalogues
    language: str
    step: str = Step.ATTRACT.value
    clinic_name: str = ""
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
    confirm_name: str = ""
    confirm_when: str = ""
    confirm_with: str = ""
    confirm_where: str = ""
    review_lines: list[str] = field(default_factory=list)
    form_title: str = ""
    form_text: str = ""
    form_progress: str = ""
    form_may_decline: bool = False
    form_number: int = 0
    ticket: str = ""
    ticket_position: str = ""
    ticket_wait: str = ""
    ticket_instruction: str = ""
    ticket_on_screen: bool = False  # no printer: the number is shown large

    def t(self, key: str, **values: object) -> str:
        return self.catalogues.text(self.language, key, **values)


def build_view(flow: Flow, catalogues: Catalogues, clinic_name: str, timezone: str = "UTC") -> View:
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
    )
    if flow.board is not None:
        fields["now_calling"] = "  ".join(f"{call.ticket} {call.room}".strip() for call in flow.board.now_calling)
        fields["waiting"] = text("attract.waiting", tickets="  ".join(flow.board.waiting[:12])) if flow.board.waiting else text("attract.nobody")
    session = flow.session
    if flow.step is Step.MANUAL:
        fields.update(
            typed_family=session.typed.family,
            typed_birth=catalogues.fill_date_pattern(language, session.typed.birth_digits),
            typing_focus=session.typed.focus,
        )
    appointment = session.appointment
    if appointment is not None and flow.step in (Step.CONFIRM, Step.REVIEW, Step.FORMS):
        start = appointment.start.astimezone(zoneinfo.ZoneInfo(timezone)) if appointment.start.tzinfo else appointment.start
        fields.update(
            confirm_name=text("confirm.hello", name=appointment.display_name),
            confirm_when=text("confirm.when", time=catalogues.time(language, start)),
            confirm_with=text("confirm.with", clinician=appointment.clinician),
            confirm_where=text("confirm.where", location=appointment.location),
        )
    if flow.step is Step.REVIEW:
        lines = [text(key) for key in flow.review_differences]
        demographics = flow.read_demographics()
        if demographics is not None and demographics.address is not None:
            address = demographics.address
            lines.append(text("review.from_id", address=", ".join(p for p in (address.street, address.city, address.postal_code) if p)))
        fields["review_lines"] = lines
    form = flow.current_form
    if form is not None:
        form_language = flow.form_language(form)
        fields.update(
            form_title=form.title.get(form_language) or next(iter(form.title.values()), ""),
            form_text=form.text[form_language],
            form_progress=text("forms.progress", number=session.form_index + 1, total=len(appointment.forms_due)),
            form_may_decline=form.may_decline,
            form_number=session.form_index + 1,
        )
    ticket = flow.ticket
    if flow.step is Step.DONE and ticket is not None:
        fields["ticket"] = ticket.ticket
        fields["ticket_on_screen"] = ticket.on_screen
        if not ticket.offline:
            fields["ticket_position"] = text("done.position", position=catalogues.number(language, ticket.position))
            minutes = ticket.estimated_wait_min
            fields["ticket_wait"] = text("done.wait", minutes=catalogues.number(language, minutes)) if minutes else text("done.wait_short")
        instructions = [text("done.on_screen") if ticket.on_screen else text("done.take")]
        if ticket.offline:
            instructions.append(text("done.offline"))
        fields["ticket_instruction"] = " ".join(instructions)
    return View(**fields)



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
