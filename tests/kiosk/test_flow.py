"""Every transition of the check-in state machine, without a window or a network."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest

from lobby_core.contract import (
    CheckinResponse,
    LookupResponse,
    Signature,
)
from kiosk.devices.base import CardInserted, CardRemoved, DeviceState, DeviceStatus, Scanned, SignatureCaptured, StatusChanged
from tests.kiosk.samples import CARD, HINTS, MARIA, SIGNATURE, TODAY, Clock, form, matched
from kiosk.flow import Flow, FlowSettings, Lookup, PrintTicket, ReminderScanned, ReportHealth, RequestHelp, Step, allowed_birth_digits, birth_date_from_digits

@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flow(clock) -> Flow:
    settings = FlowSettings(kiosk_id="kiosk-2", idle_timeout_s=60, idle_warning_s=15, done_display_s=20,
                            device_kinds={"scanner": "id_scanner", "reader": "card_reader", "printer": "receipt_printer"})
    scans = {"@AAMVA-MARIA": MARIA, "QR-REMINDER": ReminderScanned("signed-reminder")}
    orders = {"en": "MDY", "es": "DMY"}
    return Flow(settings, clock=clock, now=lambda: TODAY, read_scan=scans.get, date_order=orders.__getitem__)


def online(flow: Flow, *names: str) -> None:
    for name in names:
        flow.device_event(StatusChanged(name, DeviceStatus(DeviceState.ONLINE)))


def scan_to_confirm(flow: Flow, response: LookupResponse | None = None) -> Lookup:
    flow.start()
    [lookup] = flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    flow.lookup_answered(response or matched())
    return lookup


def answer(flow: Flow, ticket: str = "A-007", offline: bool = False) -> list:
    return flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket=ticket, position=3, estimated_wait_min=12), offline=offline)


def test_attract_touch_goes_to_identify(flow):
    assert flow.step is Step.ATTRACT
    assert flow.start() == []
    assert flow.step is Step.IDENTIFY


def test_scan_asks_the_agent_with_the_identity_read(flow):
    lookup = scan_to_confirm(flow)
    assert lookup.request.family == "GARCIA LOPEZ" and lookup.request.birth_date == dt.date(1956, 3, 14)
    assert lookup.request.identity_source == "aamva"
    assert flow.step is Step.CONFIRM


def test_unreadable_scan_explains_and_stays_on_identify(flow):
    flow.start()
    assert flow.device_event(Scanned("scanner", "garbage")) == []
    assert (flow.step, flow.notice) == (Step.IDENTIFY, "identify.unreadable")
    assert flow.session.scan_buffer == ""


def test_scan_on_the_attract_screen_starts_directly(flow):
    [lookup] = flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    assert isinstance(lookup, Lookup) and flow.step is Step.LOOKING_UP


def test_unreadable_card_explains(flow):
    flow.start()
    flow.device_event(CardInserted("reader", None, "card not supported"))
    assert flow.notice == "identify.card_unreadable"


def test_typed_name_and_birth_date_in_the_patients_date_order(flow):
    flow.start()
    flow.choose_language("es")
    flow.type_by_hand()
    for char in "Garcia":
        flow.key(char)
    flow.focus("birth")
    for char in "14031956":
        flow.key(char)
    [lookup] = flow.submit_typed()
    assert (lookup.request.family, lookup.request.birth_date) == ("Garcia", dt.date(1956, 3, 14))
    assert lookup.request.identity_source == "manual" and lookup.request.language == "es"


def test_type_my_name_on_the_welcome_screen_goes_straight_to_the_keyboard(flow):
    assert flow.step is Step.ATTRACT
    flow.type_by_hand()  # "Type my name" on the attract screen: no identify screen on the way
    assert flow.step is Step.MANUAL and flow.session.typed.focus == "family" and flow.progress == 1
    flow.back()  # Back from the name: the choice of scanning or typing, with the scanner picture
    assert flow.step is Step.IDENTIFY


def test_typing_needs_a_name_and_the_date_pad_refuses_digits_that_lead_to_no_date(flow):
    flow.start()
    flow.type_by_hand()
    assert flow.next_field() == [] and flow.notice == "manual.need_name" and flow.session.typed.focus == "family"
    flow.key("X")
    assert flow.next_field() == [] and flow.session.typed.focus == "birth"
    for char in "1340195619":  # MDY: no month 13 or 14, no year starting 5 or 6
        flow.key(char)
    assert flow.session.typed.birth_digits == "101919"
    flow.backspace()
    assert flow.session.typed.birth_digits == "10191"
    flow.back()
    assert (flow.step, flow.session.typed.focus) == (Step.MANUAL, "family")
    flow.back()
    assert flow.step is Step.IDENTIFY


def test_the_date_pad_allows_exactly_the_digits_of_real_past_dates():
    today = TODAY.date()
    assert allowed_birth_digits("", "MDY", today) == "01"
    assert allowed_birth_digits("02", "MDY", today) == "012"  # February: no day 3x
    assert allowed_birth_digits("0230", "MDY", today) == ""
    assert allowed_birth_digits("02291", "MDY", today) == "9"  # a leap year: 19xx only when one ends a leap day
    assert allowed_birth_digits("1123202", "MDY", today) == "0123456"  # not after today (2026-11-23)
    assert allowed_birth_digits("3", "DMY", today) == "01"
    assert allowed_birth_digits("", "YMD", today) == "12"


def test_no_match_shows_what_was_typed_once_then_calls_the_desk(flow):
    flow.start()
    flow.type_by_hand()
    for char in "ROSI":
        flow.key(char)
    flow.next_field()
    for char in "03031962":
        flow.key(char)
    [lookup] = flow.next_field()
    assert flow.lookup_answered(LookupResponse(outcome="none")) == []
    assert flow.step is Step.NOT_FOUND and flow.session.typed.family == "ROSI"
    flow.correct()
    assert (flow.step, flow.session.typed.focus, flow.session.typed.birth_digits) == (Step.MANUAL, "family", "03031962")
    flow.key("S")
    flow.next_field()
    flow.next_field()
    effects = flow.lookup_answered(LookupResponse(outcome="none"))
    assert effects == [RequestHelp(screen="see_desk/none", language="en")]
    assert (flow.step, flow.desk_call) == (Step.SEE_DESK, "sent")
    flow.help_answered(delivered=False)
    assert flow.desk_call == "unreachable"


def test_a_scanned_identity_that_finds_nobody_can_be_corrected_by_typing(flow):
    flow.start()
    flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    flow.lookup_answered(LookupResponse(outcome="none"))
    assert flow.step is Step.NOT_FOUND
    flow.correct()
    assert (flow.session.typed.family, flow.session.typed.birth_digits) == ("GARCIA LOPEZ", "03141956")


def test_birth_date_digits():
    today = TODAY.date()
    assert birth_date_from_digits("03141956", "MDY", today) == dt.date(1956, 3, 14)
    assert birth_date_from_digits("14031956", "DMY", today) == dt.date(1956, 3, 14)
    assert birth_date_from_digits("19560314", "YMD", today) == dt.date(1956, 3, 14)
    assert birth_date_from_digits("02302000", "MDY", today) is None
    assert birth_date_from_digits("01012030", "MDY", today) is None
    assert birth_date_from_digits("0101", "MDY", today) is None


def test_an_ambiguous_match_sends_to_the_desk_and_flags(flow):
    flow.start()
    flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    effects = flow.lookup_answered(LookupResponse(outcome="ambiguous"))
    assert effects == [RequestHelp(screen="see_desk/ambiguous", language="en")]
    assert flow.step is Step.SEE_DESK and flow.session.lookup is None


def test_not_me_sends_to_the_desk_and_forgets_the_match(flow):
    scan_to_confirm(flow)
    [flag] = flow.not_me()
    assert flag.screen == "see_desk/not-me" and flow.session.appointment is None


def test_refused_lookup_sends_to_the_desk(flow):
    flow.start()
    flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    flow.lookup_failed(unreachable=False)
    assert flow.step is Step.SEE_DESK


def test_the_address_on_the_id_is_sent_for_the_agent_to_compare_never_overwritten(flow):
    scan_to_confirm(flow)  # no hints on file: straight on
    [submit] = flow.confirm()
    assert submit.request.demographics.address.street == "12 NEW STREET"
    assert submit.request.appointment_id == "appt-42" and submit.request.details_changed is False


def test_the_file_hints_are_asked_about_and_the_answer_sent(flow):
    scan_to_confirm(flow, matched(on_file=HINTS))
    assert flow.confirm() == [] and flow.step is Step.REVIEW
    assert flow.on_file_hints == HINTS
    [submit] = flow.details_changed()
    assert submit.request.details_changed is True
    assert submit.request.details_reviewed is True  # answered, though nothing is confirmed (the agent's rule)


def test_details_still_right_goes_on_unflagged(flow):
    scan_to_confirm(flow, matched(on_file=HINTS))
    flow.confirm()
    [submit] = flow.review_done()
    assert submit.request.details_changed is False
    assert submit.request.details_reviewed is True  # the agent records the confirmation


def test_no_review_shown_confirms_nothing(flow):
    """Hints empty (nothing on file, or the review is not due): no "Is this still right?", and the
    check-in says the details were not reviewed, so the agent records no confirmation."""
    scan_to_confirm(flow)
    [submit] = flow.confirm()
    assert flow.step is Step.SUBMITTING
    assert submit.request.details_reviewed is False and submit.request.details_changed is False


def test_a_review_answered_in_one_session_is_not_carried_into_the_next(flow):
    scan_to_confirm(flow, matched(on_file=HINTS))
    flow.confirm()
    flow.review_done()
    answer(flow)  # the session is wiped with the ticket
    assert flow.session.details_reviewed is False
    flow.finish()
    scan_to_confirm(flow)
    [submit] = flow.confirm()
    assert submit.request.details_reviewed is False


def test_a_reminder_and_the_birth_date_alone_look_up_and_check_in(flow):
    flow.start()
    assert flow.device_event(Scanned("scanner", "QR-REMINDER")) == []
    assert (flow.step, flow.session.typed.focus) == (Step.MANUAL, "birth")
    for char in "03141956":
        flow.key(char)
    [lookup] = flow.submit_typed()
    assert (lookup.request.family, lookup.request.reminder_token) == (None, "signed-reminder")
    flow.lookup_answered(matched())
    [submit] = flow.confirm()
    assert submit.request.reminder_token == "signed-reminder"  # the agent checks it with the birth date
    assert (submit.request.patient.family, submit.request.patient.birth_date) == ("", dt.date(1956, 3, 14))


def test_insurance_card_is_sent_for_the_agent_to_compare(flow):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched())
    [submit] = flow.confirm()
    assert submit.request.coverage.member_id == "ACME-998877" and submit.request.coverage.source == "card"


def test_forms_signed_and_declined_in_the_language_shown(flow):
    scan_to_confirm(flow, matched(forms=[form("privacy"), form("photo", may_decline=True)]))
    flow.confirm()
    assert flow.step is Step.FORMS and flow.current_form.document_id == "privacy"
    assert flow.decline() == []  # privacy may not be declined
    flow.choose_language("es")
    assert flow.sign(SIGNATURE) == [] and flow.current_form.document_id == "photo"
    [submit] = flow.decline()
    accepted, declined = submit.request.consents
    assert (accepted.decision, accepted.language, accepted.signature) == ("accepted", "es", SIGNATURE)
    assert accepted.text_sha256 == hashlib.sha256("privacy términos en español".encode()).hexdigest()
    assert (declined.decision, declined.signature) == ("declined", None)
    assert submit.request.language == "es" and submit.request.checkin_id == flow.session.checkin_id


def test_the_record_hashes_the_text_the_patient_was_shown_not_the_agents_claim(flow):
    shown = form("privacy")
    claimed = shown.model_copy(update={"sha256": {"en": "0" * 64, "es": "0" * 64}})
    scan_to_confirm(flow, matched(forms=[claimed]))
    flow.confirm()
    [submit] = flow.sign(SIGNATURE)
    [record] = submit.request.consents
    assert record.text_sha256 == hashlib.sha256(shown.text["en"].encode("utf-8")).hexdigest() != "0" * 64


def test_signature_from_the_pad_signs_the_current_form(flow):
    scan_to_confirm(flow, matched(forms=[form("privacy")]))
    flow.confirm()
    [submit] = flow.device_event(SignatureCaptured("pad", SIGNATURE.model_copy(update={"device": "pad"})))
    assert submit.request.consents[0].signature.device == "pad"


def test_empty_signature_is_not_a_signature(flow):
    scan_to_confirm(flow, matched(forms=[form("privacy")]))
    flow.confirm()
    assert flow.sign(Signature(width_mm=100, height_mm=40, strokes=[], device="touch")) == []
    assert flow.step is Step.FORMS


def test_done_prints_the_ticket_and_wipes_the_session(flow):
    online(flow, "printer")
    scan_to_confirm(flow)
    flow.confirm()
    effects = answer(flow)
    assert effects == [PrintTicket("A-007", 3, 12, "en")]
    assert flow.step is Step.DONE and flow.ticket.ticket == "A-007"
    assert flow.session.identity is None and flow.session.lookup is None
    flow.printed(ok=True)
    assert flow.ticket.printed and not flow.ticket.on_screen


def test_printer_out_of_paper_shows_the_ticket_and_flags_staff(flow):
    online(flow, "printer")
    scan_to_confirm(flow)
    flow.confirm()
    answer(flow)
    effects = flow.printed(ok=False)
    assert effects == [RequestHelp(screen="done/printer", language="en"), ReportHealth()]
    assert flow.ticket.on_screen


def test_printer_known_offline_goes_straight_to_the_screen(flow):
    flow.device_event(StatusChanged("printer", DeviceStatus(DeviceState.OFFLINE, "paper end")))
    scan_to_confirm(flow)
    flow.confirm()
    effects = answer(flow)
    assert RequestHelp(screen="done/printer", language="en") in effects and flow.ticket.on_screen


def test_answer_for_another_session_is_ignored(flow):
    scan_to_confirm(flow)
    flow.confirm()
    stale = CheckinResponse(checkin_id=uuid.uuid4(), ticket="A-001", position=1, estimated_wait_min=1)
    assert flow.checkin_answered(stale, offline=False) == [] and flow.step is Step.SUBMITTING


def test_refused_checkin_goes_to_the_desk(flow):
    scan_to_confirm(flow)
    flow.confirm()
    flow.checkin_refused()
    assert flow.step is Step.SEE_DESK


def test_agent_unreachable_offers_an_offline_check_in(flow):
    flow.start()
    flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    flow.lookup_failed(unreachable=True)
    assert flow.step is Step.OFFLINE and not flow.agent_online
    [submit] = flow.check_in_offline()
    assert submit.request.appointment_id is None and submit.request.patient.family == "GARCIA LOPEZ"
    answer(flow, ticket="K2-003", offline=True)
    assert flow.ticket.offline and flow.ticket.ticket == "K2-003"


def test_done_screen_returns_to_attract(flow, clock):
    scan_to_confirm(flow)
    flow.confirm()
    answer(flow)
    clock.now += 19
    flow.tick()
    assert flow.step is Step.DONE
    clock.now += 2
    flow.tick()
    assert flow.step is Step.ATTRACT and flow.ticket is None


def test_idle_warning_counts_down_then_wipes(flow, clock):
    scan_to_confirm(flow)
    clock.now += 59
    flow.tick()
    assert flow.idle_warning_left is None
    clock.now += 1
    flow.tick()
    assert flow.idle_warning_left == 15
    clock.now += 10
    flow.tick()
    assert flow.idle_warning_left == 5 and flow.step is Step.CONFIRM
    clock.now += 5
    flow.tick()
    assert flow.step is Step.ATTRACT and flow.session.identity is None and flow.idle_warning_left is None


def test_still_here_keeps_the_session(flow, clock):
    scan_to_confirm(flow)
    clock.now += 65
    flow.tick()
    flow.still_here()
    clock.now += 30
    flow.tick()
    assert flow.step is Step.CONFIRM and flow.idle_warning_left is None


def test_no_timeout_while_waiting_for_the_agent(flow, clock):
    flow.start()
    flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    clock.now += 500
    flow.tick()
    assert flow.step is Step.LOOKING_UP


def test_card_removed_mid_flow_wipes(flow):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched())
    flow.device_event(CardRemoved("reader"))
    assert flow.step is Step.ATTRACT and flow.session.identity is None


def test_card_removed_does_not_end_a_session_started_another_way(flow):
    scan_to_confirm(flow)
    flow.device_event(CardRemoved("reader"))
    assert flow.step is Step.CONFIRM


def test_language_switch_keeps_progress(flow):
    scan_to_confirm(flow, matched(forms=[form("privacy")]))
    flow.confirm()
    checkin_id = flow.session.checkin_id
    flow.choose_language("es")
    assert (flow.step, flow.language, flow.session.checkin_id) == (Step.FORMS, "es", checkin_id)
    assert flow.form_language(flow.current_form) == "es"
    flow.choose_language("fr")  # not offered at this site
    assert flow.language == "es"


def test_help_from_any_screen(flow):
    flow.start()
    assert flow.ask_for_help() == [RequestHelp(screen="identify", language="en")]
    assert flow.help == "sent"
    flow.help_answered(delivered=False)
    assert flow.help == "unreachable"
    flow.dismiss_help()
    assert flow.help == "" and flow.step is Step.IDENTIFY


def test_start_over_wipes(flow):
    scan_to_confirm(flow)
    flow.choose_language("es")
    flow.finish()
    assert flow.step is Step.ATTRACT and flow.language == "en" and flow.session.lookup is None


def test_scanner_offline_is_known(flow):
    assert not flow.scanner_usable
    online(flow, "scanner")
    assert flow.scanner_usable
    effects = flow.device_event(StatusChanged("scanner", DeviceStatus(DeviceState.OFFLINE, "unplugged")))
    assert effects == [ReportHealth()] and not flow.scanner_usable


def test_an_unprinted_ticket_stays_until_done_then_can_be_shown_again(flow, clock):
    scan_to_confirm(flow)
    flow.confirm()
    answer(flow)
    flow.printed(ok=False)  # the printer failed: the number goes on screen
    assert flow.ticket.on_screen
    clock.now += 250
    flow.tick()
    assert flow.step is Step.DONE  # long past done_display_s (20 s)
    flow.finish()
    assert flow.step is Step.ATTRACT and flow.ticket_to_show_again.ticket == "A-007"
    flow.show_ticket_again()
    assert (flow.step, flow.ticket.ticket) == (Step.DONE, "A-007")
    clock.now += 300
    flow.tick()
    assert flow.step is Step.ATTRACT and flow.ticket_to_show_again is None  # the upper bound ends it for good


def test_a_printed_ticket_screen_clears_after_done_display_s(flow, clock):
    online(flow, "printer")
    scan_to_confirm(flow)
    flow.confirm()
    answer(flow)
    flow.printed(ok=True)
    clock.now += 20
    flow.tick()
    assert flow.step is Step.ATTRACT and flow.ticket_to_show_again is None


def test_a_form_gets_the_longer_idle_time_and_each_screen_starts_its_own(flow, clock):
    scan_to_confirm(flow, matched(forms=[form("privacy")]))
    clock.now += 50
    flow.confirm()
    flow.review_done()
    assert flow.step is Step.FORMS
    clock.now += 170  # more than idle_timeout_s, less than idle_timeout_form_s (180)
    flow.tick()
    assert flow.idle_warning_left is None
    clock.now += 10
    flow.tick()
    assert flow.idle_warning_left == 15


def test_signing_waits_for_the_end_of_a_form_that_requires_it(flow):
    scan_to_confirm(flow, matched(forms=[form("treat", require_scroll_to_end=True), form("privacy")]))
    flow.confirm()
    flow.review_done()
    assert not flow.can_sign
    assert flow.sign(SIGNATURE) == [] and flow.notice == "forms.scroll_first" and flow.session.form_index == 0
    flow.form_scrolled_to_end()
    assert flow.can_sign and flow.notice == ""
    flow.sign(SIGNATURE)
    assert flow.session.form_index == 1 and flow.can_sign and not flow.session.form_read_to_end


def test_an_already_checked_in_visit_shows_its_existing_ticket_in_every_language(flow):
    """Issue #13 (6): the agent answers a second check-in of an arrived appointment with that visit's
    ticket and the flag `already_checked_in`; the done screen says so, from the catalogues."""
    from kiosk.i18n import Catalogues
    from kiosk.view import build_view
    from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

    online(flow, "printer")
    scan_to_confirm(flow)
    flow.confirm()
    existing = CheckinResponse(checkin_id=flow.session.checkin_id, ticket="A-014", position=0, estimated_wait_min=0,
                               flags=["already_checked_in"])  # fmt: skip
    assert flow.checkin_answered(existing, offline=False) == [PrintTicket("A-014", 0, 0, "en")]
    assert flow.step is Step.DONE and flow.ticket.already and flow.session.identity is None
    catalogues = Catalogues.load(DEFAULT_TRANSLATIONS_DIR)
    assert len(catalogues.languages) == 13
    titles = set()
    for language in catalogues.languages:
        assert "done.already" in catalogues.keys(language), language  # translated, not English fallback
        flow.session.language = language  # the done screen speaks the language the patient chose
        shown = build_view(flow, catalogues, "Riverside")
        assert "A-014" in shown.ticket_title and shown.ticket_title != catalogues.text(language, "done.title")
        assert shown.ticket_position == ""  # already called: no "You are next"
        titles.add(shown.ticket_title)
    assert len(titles) == 13
    flow.session.language = "en"
    assert build_view(flow, catalogues, "Riverside").ticket_title == "You are already checked in: A-014"


def test_a_new_check_in_keeps_the_usual_done_title(flow):
    from kiosk.i18n import Catalogues
    from kiosk.view import build_view
    from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

    scan_to_confirm(flow)
    flow.confirm()
    answer(flow)
    assert not flow.ticket.already
    shown = build_view(flow, Catalogues.load(DEFAULT_TRANSLATIONS_DIR), "Riverside")
    assert shown.ticket_title == "You're checked in"
