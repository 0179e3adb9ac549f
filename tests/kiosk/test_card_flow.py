"""The insurance card's steps of the check-in state machine, without a window: asked once after the
identity, read off the UI thread (the flow only asks for it), each field confirmed or corrected, Skip
everywhere, and nothing of the card left after the session."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from PIL import Image

from kiosk.card_capture import CardReading, CardSides, FieldReading, encode_jpeg
from kiosk.flow import CaptureCard, Flow, FlowSettings, Step
from kiosk.view import build_view
from kiosk.i18n import Catalogues
from lobby_core.contract import CheckinResponse, CheckinRequest
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from tests.kiosk.samples import HINTS, MARIA, TODAY, Clock, form, matched
from kiosk.devices.base import Scanned


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flow(clock) -> Flow:
    settings = FlowSettings(kiosk_id="kiosk-2", card_scanner=True, device_kinds={"scanner": "id_scanner", "card": "card_scanner"})
    return Flow(settings, clock=clock, now=lambda: TODAY, read_scan={"@AAMVA-MARIA": MARIA}.get, date_order=lambda _l: "MDY")


def reading(member_review: bool = True) -> tuple[CardReading, bytes, bytes]:
    front, back = Image.effect_noise((200, 120), 40).convert("RGB"), Image.new("RGB", (200, 120), "navy")
    fields = {
        "payer_name": FieldReading("Cedar Mutual", 95.0, False),
        "member_id": FieldReading("JMZ8O73021573", 62.0, member_review),  # an O read for a 0, with doubt
        "group_number": FieldReading("3036426", 91.0, False),
        "plan": FieldReading("HMO Select", 90.0, False),
        "rx_bin": FieldReading(None, 0.0, True),
    }
    return CardReading(CardSides(front, back), fields), encode_jpeg(front), encode_jpeg(back)


def to_card_question(flow: Flow, forms=()) -> None:
    flow.start()
    flow.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    flow.lookup_answered(matched(forms=forms, on_file=HINTS))
    flow.confirm()
    assert flow.step is Step.REVIEW
    assert flow.review_done() == []


def scanned(flow: Flow, card=None) -> CardReading:
    card = card or reading()
    flow.has_card()
    [capture] = flow.scan_card()
    assert isinstance(capture, CaptureCard) and flow.step is Step.CARD_READING
    flow.card_read(capture.checkin_id, capture.attempt, *card)
    return card[0]


def test_the_card_is_asked_for_after_is_this_still_right_and_only_with_a_scanner(flow, clock):
    to_card_question(flow)
    assert flow.step is Step.CARD_ASK and flow.progress == 2
    plain = Flow(replace(flow.settings, card_scanner=False), clock=clock, now=lambda: TODAY,
                 read_scan={"@AAMVA-MARIA": MARIA}.get)  # fmt: skip
    plain.start()
    plain.device_event(Scanned("scanner", "@AAMVA-MARIA"))
    plain.lookup_answered(matched())
    [submit] = plain.confirm()  # no scanner: no question, straight to the check-in
    assert submit.request.insurance_card is None


def test_read_fields_are_shown_corrected_confirmed_and_sent_with_both_sides_as_jpeg(flow):
    to_card_question(flow, forms=[form("privacy")])
    card = scanned(flow)
    assert flow.step is Step.CARD_CONFIRM
    catalogues = Catalogues.load(DEFAULT_TRANSLATIONS_DIR, "en")
    view = build_view(flow, catalogues, "Clinic")
    assert view.card_values == {"payer_name": "Cedar Mutual", "member_id": "JMZ8O73021573", "group_number": "3036426", "plan": "HMO Select"}
    assert view.card_check("member_id") == "The front desk will check this" and view.card_check("plan") == ""
    flow.change_card_field("member_id")  # the patient fixes the O with the keyboard
    assert (flow.step, flow.session.card_typed) == (Step.CARD_EDIT, "JMZ8O73021573")
    for _ in range(9):  # back to "JMZ8"
        flow.backspace()
    for char in "073021573":
        flow.key(char)
    flow.key("0")  # one too many: deleted again
    flow.backspace()
    assert flow.card_field_done() == [] and flow.step is Step.CARD_CONFIRM
    flow.change_card_field("plan")  # opened and left as it was: not a correction
    flow.card_field_done()
    flow.change_card_field("group_number")
    flow.key("9")
    flow.back()  # "Back": nothing changed
    assert flow.card_value("group_number") == "3036426" and not flow.card_needs_review("member_id")
    assert flow.card_confirmed() == [] and flow.step is Step.FORMS
    assert card.fields == {} and flow.session.insurance_card is None  # the images are closed once encoded
    flow.form_scrolled_to_end()
    from tests.kiosk.samples import SIGNATURE

    [submit] = flow.sign(SIGNATURE)
    request = CheckinRequest.model_validate_json(submit.request.model_dump_json())  # as the wire carries it
    scan = request.insurance_card
    assert Image.open(io.BytesIO(scan.front_jpeg)).format == "JPEG" and Image.open(io.BytesIO(scan.back_jpeg)).getpixel((5, 5))[2] > 100
    assert scan.fields["member_id"].model_dump() == {"value": "JMZ8073021573", "needs_review": False, "corrected": True}
    assert scan.fields["plan"].model_dump() == {"value": "HMO Select", "needs_review": False, "corrected": False}
    assert scan.fields["rx_bin"].model_dump() == {"value": "", "needs_review": True, "corrected": False}
    coverage = request.coverage
    assert (coverage.payor, coverage.member_id, coverage.group, coverage.plan, coverage.source) == \
        ("Cedar Mutual", "JMZ8073021573", "3036426", "HMO Select", "card")  # fmt: skip
    flow.checkin_answered(CheckinResponse(checkin_id=request.checkin_id, ticket="A-007", position=1, estimated_wait_min=0), offline=False)
    session = flow.session
    assert (session.card_scan, session.card_coverage, session.card_jpegs, session.insurance_card, session.card_edits) == (None, None, None, None, {})


def test_a_low_confidence_field_left_as_read_goes_to_the_desk_marked(flow):
    to_card_question(flow)
    scanned(flow)
    [submit] = flow.card_confirmed()  # no forms: straight to the check-in
    assert submit.request.insurance_card.fields["member_id"].needs_review is True


@pytest.mark.parametrize("where", ["ask", "scan", "reading", "confirm", "edit"])
def test_skip_on_every_card_screen_goes_on_without_the_card(flow, where):
    to_card_question(flow)
    if where != "ask":
        flow.has_card()
    capture = None
    if where in ("reading", "confirm", "edit"):
        [capture] = flow.scan_card()
    card = reading()
    if where in ("confirm", "edit"):
        flow.card_read(capture.checkin_id, capture.attempt, *card)
    if where == "edit":
        flow.change_card_field("payer_name")
    [submit] = flow.skip_card()
    assert submit.request.insurance_card is None and submit.request.coverage is None
    assert flow.session.insurance_card is None
    if where == "reading":  # the scan still under way answers later: wiped, not shown
        flow.card_read(capture.checkin_id, capture.attempt, *card)
        assert flow.step is Step.SUBMITTING and card[0].fields == {}


def test_a_failed_capture_or_an_unreadable_card_says_so_and_offers_again_or_skip(flow):
    to_card_question(flow)
    flow.has_card()
    [capture] = flow.scan_card()
    flow.card_failed(capture.checkin_id, capture.attempt)
    assert (flow.step, flow.notice) == (Step.CARD_SCAN, "card.failed")
    [capture] = flow.scan_card()
    blank = CardReading(CardSides(Image.new("RGB", (20, 20)), None), {"payer_name": FieldReading(None, 0, True)})
    flow.card_read(capture.checkin_id, capture.attempt, blank, b"x" * 200, None)
    assert (flow.step, flow.notice) == (Step.CARD_SCAN, "card.unreadable") and blank.fields == {}
    [submit] = flow.skip_card()
    assert submit.request.insurance_card is None


def test_an_answer_for_another_session_is_wiped_unread(flow):
    to_card_question(flow)
    flow.has_card()
    [capture] = flow.scan_card()
    flow.finish()  # the patient walked away
    to_card_question(flow)
    flow.has_card()
    flow.scan_card()
    card = reading()
    flow.card_read(capture.checkin_id, capture.attempt, *card)
    assert flow.step is Step.CARD_READING and card[0].fields == {} and flow.session.insurance_card is None


def test_idle_on_a_card_screen_ends_the_session_and_wipes_the_card(flow, clock):
    to_card_question(flow)
    card = scanned(flow)
    clock.now += flow.settings.idle_timeout_s + flow.settings.idle_warning_s + 1
    flow.tick()
    assert flow.step is Step.ATTRACT and card.fields == {} and flow.session.card_jpegs is None


def test_the_done_screen_sends_to_the_desk_about_insurance_only_when_the_agent_says(flow):
    catalogues = Catalogues.load(DEFAULT_TRANSLATIONS_DIR, "en")
    for flags, line in ((["insurance_see_desk"], "Please see the front desk about your insurance"), ([], "")):
        flow.finish()
        to_card_question(flow)
        [submit] = flow.skip_card()
        flow.checkin_answered(CheckinResponse(checkin_id=submit.request.checkin_id, ticket="A-008", position=2,
                                              estimated_wait_min=5, flags=flags), offline=False)  # fmt: skip
        view = build_view(flow, catalogues, "Clinic")
        assert view.step == "done" and view.ticket_insurance == line
        flow.choose_language("es")
        if line:
            assert build_view(flow, catalogues, "Clinic").ticket_insurance == "Por favor, hable con la recepción sobre su seguro"
        flow.choose_language("en")


def test_skip_stops_a_capture_waiting_for_the_card_even_one_not_yet_started(tmp_path):
    import threading
    import time

    from kiosk.card_capture import CaptureFailed, HotFolderSource

    source = HotFolderSource(tmp_path, timeout_s=30)
    failed: list[str] = []

    def capture() -> None:
        try:
            source.capture()
        except CaptureFailed as error:
            failed.append(str(error))

    source.arm()
    waiting = threading.Thread(target=capture)
    waiting.start()
    time.sleep(0.2)
    source.cancel()
    waiting.join(2)
    assert failed == ["cancelled"] and not waiting.is_alive()  # not the 30 s time-out
    source.arm()
    source.cancel()  # the patient skipped between the worker's check and the scanner starting
    capture()
    assert failed == ["cancelled", "cancelled"]


def test_the_card_scanner_health_goes_to_the_desk(tmp_path, flow):
    from kiosk.card_capture import HotFolderSource, SaneSource
    from kiosk.card_worker import CardWorker

    folder = tmp_path / "hot"
    worker = CardWorker(flow, HotFolderSource(folder), lambda step: None)
    assert (worker.health().state, worker.health().reason) == ("offline", "hot folder missing")
    folder.mkdir()
    assert worker.health().model_dump() == {"name": "card-scanner", "kind": "card_scanner", "state": "online", "reason": ""}
    assert CardWorker(flow, SaneSource("test:0"), lambda step: None).health().state == "unknown"
