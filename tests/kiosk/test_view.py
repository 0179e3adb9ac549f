"""What screens show, without a window: the patient's language and formats, degradations, and nothing left after a wipe."""

from __future__ import annotations


import pytest

from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from lobby_core.contract import BoardCall, BoardState, CheckinResponse
from kiosk.devices.base import CardInserted, DeviceState, DeviceStatus, StatusChanged
from kiosk.flow import Flow, FlowSettings
from kiosk.i18n import Catalogues
from kiosk.view import build_view
from tests.kiosk.samples import CARD, HINTS, TODAY, Clock, form, matched


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues.load(DEFAULT_TRANSLATIONS_DIR)


@pytest.fixture
def flow() -> Flow:
    settings = FlowSettings(device_kinds={"scanner": "id_scanner", "reader": "card_reader", "printer": "receipt_printer"})
    return Flow(settings, clock=Clock(), now=lambda: TODAY, date_order={"en": "MDY", "es": "DMY"}.__getitem__)


def view(flow, catalogues, timezone="America/Chicago"):
    return build_view(flow, catalogues, "Riverside Family Clinic", timezone)


def test_attract_shows_tickets_only(flow, catalogues):
    flow.board_updated(BoardState(clinic_name="x", now_calling=[BoardCall(ticket="A-012", room="Room 2", called_at=TODAY)],
                                  waiting=["A-013", "K1-002"], languages=["en"], updated_at=TODAY))  # fmt: skip
    shown = view(flow, catalogues)
    assert shown.now_calling == "A-012 Room 2" and shown.waiting == "Waiting: A-013  K1-002"


def test_confirm_in_spanish_with_the_sites_local_time(flow, catalogues):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched(forms=[form("privacy")]))  # 10:30 UTC
    flow.choose_language("es")
    shown = view(flow, catalogues)
    assert shown.confirm_when == "4:30, Room 3"  # America/Chicago, 24 h clock; the room as the schedule names it
    assert shown.confirm_name == "Maria G." and shown.t("confirm.yes") == "Sí"


def test_scanner_offline_offers_typing(flow, catalogues):
    flow.device_event(StatusChanged("scanner", DeviceStatus(DeviceState.OFFLINE, "unplugged")))
    assert view(flow, catalogues).scanner_offline
    flow.device_event(StatusChanged("reader", DeviceStatus(DeviceState.ONLINE)))
    assert not view(flow, catalogues).scanner_offline


def test_agent_away_shows_the_banner(flow, catalogues):
    assert view(flow, catalogues).offline_banner == ""
    flow.agent_reachable(False)
    assert "offline" in view(flow, catalogues).offline_banner


def test_ticket_large_on_screen_without_a_printer_in_the_patients_numbers(flow, catalogues):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched())
    flow.choose_language("es")
    flow.confirm()
    flow.review_done()
    flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket="A-016", position=1204, estimated_wait_min=18), offline=False)
    flow.printed(ok=False)
    shown = view(flow, catalogues)
    assert shown.ticket == "A-016" and shown.ticket_on_screen
    assert shown.ticket_position == "1.203 personas antes que usted"  # one number on screen: the ticket
    assert "No se imprimió boleto" in shown.ticket_instruction


def test_a_wait_under_a_minute_is_said_in_words_not_as_zero_minutes(flow, catalogues):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched())
    flow.confirm()
    flow.review_done()
    flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket="A-001", position=2, estimated_wait_min=0), offline=False)
    assert view(flow, catalogues).ticket_wait == "You will be called shortly."
    flow.choose_language("es")
    assert view(flow, catalogues).ticket_wait == "Le llamaremos en breve."


def test_the_next_patient_reads_only_that_they_are_next(flow, catalogues):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched())
    flow.confirm()
    flow.review_done()
    flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket="A-001", position=1, estimated_wait_min=0), offline=False)
    shown = view(flow, catalogues)
    assert (shown.ticket_position, shown.ticket_wait) == ("You are next", "")


def test_a_wiped_flow_renders_nothing_of_the_patient(flow, catalogues):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched(forms=[form("privacy")], on_file=HINTS))
    flow.confirm()
    flow.review_done()
    before = repr(view(flow, catalogues))
    assert "Maria G." in before and "12 NEW STREET" not in before  # the card has no address; the file's is never sent
    flow.finish()
    after = repr(view(flow, catalogues))
    for marker in ("Maria", "Okafor", "Room 3", "privacy", "ACME"):
        assert marker not in after


def test_is_this_still_right_shows_the_endings_on_file(flow, catalogues):
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched(on_file=HINTS))
    flow.confirm()
    shown = view(flow, catalogues)
    assert shown.step == "review" and shown.t("review.title") == "Is this still right?"
    assert shown.review_lines == ["Street number ending …12", "Phone ending …42", "Insurance: Blue Harbor Health",
                                  "Member ID ending …303"]  # fmt: skip
    flow.choose_language("es")
    assert view(flow, catalogues).review_lines[0] == "Número de calle terminado en …12"


def test_room_names_follow_the_patients_language(flow, catalogues):
    from kiosk.view import SiteWords

    words = SiteWords(rooms={"Room 3": {"en": "Room 3", "es": "Sala 3"}},
                      welcome_line={"en": "Park free", "es": "Aparcamiento gratis"})  # fmt: skip
    flow.start()
    flow.choose_language("es")
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched())
    shown = build_view(flow, catalogues, "Riverside", "UTC", words)
    assert (shown.confirm_when, shown.welcome_line) == ("10:30, Sala 3", "Aparcamiento gratis")
    assert shown.progress_label == "Paso 2 de 3"


def test_not_found_reads_back_what_was_typed_with_the_month_in_words(flow, catalogues):
    from lobby_core.contract import LookupResponse

    flow.start()
    flow.type_by_hand()
    for char in "ROSI":
        flow.key(char)
    flow.next_field()
    for char in "03031962":
        flow.key(char)
    assert view(flow, catalogues).typed_birth_readback == "March 3, 1962"
    flow.next_field()
    flow.lookup_answered(LookupResponse(outcome="none"))
    shown = view(flow, catalogues)
    assert shown.step == "not_found" and shown.not_found_lines == ["Last name: ROSI", "Date of birth: March 3, 1962"]
