"""A language read from the ID (a German eGK) or from the schedule (FHIR Patient.communication) is
offered first on the language picker; the locale module's matching of record tags to site languages."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from edge_agent.central.fhir import schedule_from_resources
from kiosk.devices.base import CardInserted
from kiosk.devices.egk import identity_from_xml
from kiosk.flow import Flow, FlowSettings
from kiosk.i18n import Catalogues
from kiosk.view import build_view
from lobby_core import locale
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from tests.kiosk.samples import CARD, TODAY, Clock, matched

from .test_catalogues import LANGUAGES

EGK_PERSONAL = (
    b'<?xml version="1.0" encoding="ISO-8859-15"?><UC_PersoenlicheVersichertendatenXML><Versicherter>'
    b"<Versicherten_ID>X110411675</Versicherten_ID><Person><Geburtsdatum>19560314</Geburtsdatum>"
    b"<Vorname>Maria</Vorname><Nachname>Muster</Nachname><Geschlecht>W</Geschlecht></Person>"
    b"</Versicherter></UC_PersoenlicheVersichertendatenXML>"
)


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues.load(DEFAULT_TRANSLATIONS_DIR)


def _flow(languages=tuple(LANGUAGES)) -> Flow:
    settings = FlowSettings(languages=languages, device_kinds={"reader": "card_reader"})
    return Flow(settings, clock=Clock(), now=lambda: TODAY, date_order=lambda _lang: "DMY")


def test_a_german_health_card_puts_german_first(catalogues):
    identity = identity_from_xml(EGK_PERSONAL)
    assert identity.language == "de"
    flow = _flow()
    flow.start()
    flow.device_event(CardInserted("reader", identity))
    shown = build_view(flow, catalogues, "Praxis")
    assert shown.suggested_language == "de"
    assert shown.languages[0] == ("de", "Deutsch") and len(shown.languages) == len(LANGUAGES)


def test_the_records_preferred_language_comes_first_and_a_site_without_it_suggests_nothing(catalogues):
    response = matched()
    response = response.model_copy(update={"appointment": response.appointment.model_copy(update={"preferred_language": "zh-TW"})})
    flow = _flow()
    flow.start()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(response)
    assert build_view(flow, catalogues, "Clinic").languages[0] == ("zh-Hant", "中文(繁體)")
    english_and_spanish = _flow(("en", "es"))
    english_and_spanish.start()
    english_and_spanish.device_event(CardInserted("reader", CARD))
    english_and_spanish.lookup_answered(response)
    shown = build_view(english_and_spanish, catalogues, "Clinic")
    assert shown.suggested_language == "" and [code for code, _ in shown.languages] == ["en", "es"]


def test_fhir_patient_communication_becomes_the_preferred_language():
    patient = {
        "resourceType": "Patient", "id": "p1", "birthDate": "1952-03-14", "name": [{"family": "Nguyen", "given": ["An"]}],
        "communication": [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}},
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "vi"}], "text": "Vietnamese"}, "preferred": True},
        ],
    }  # fmt: skip
    appointment = {
        "resourceType": "Appointment", "id": "a1", "status": "booked", "start": "2026-03-14T09:30:00+00:00",
        "participant": [{"actor": {"reference": "Patient/p1"}}, {"actor": {"reference": "Practitioner/d", "display": "Dr. Okafor"}}],
    }  # fmt: skip
    [scheduled] = schedule_from_resources([patient, appointment])
    assert scheduled.preferred_language == "vi"
    [without] = schedule_from_resources([{**patient, "communication": []}, appointment])
    assert without.preferred_language == ""


@pytest.mark.parametrize("tag, expected", [("zh-TW", "zh-Hant"), ("zh-CN", "zh-Hans"), ("zh-Hant-HK", "zh-Hant"), ("pt-BR", "pt"),
                                           ("fil", "tl"), ("en-US", "en"), ("ar-EG", "ar"), ("it", None), ("", None)])  # fmt: skip
def test_closest_site_language(tag, expected):
    assert locale.closest(tag, LANGUAGES) == expected


def test_names_and_dates_in_each_locale():
    born = dt.date(1952, 3, 14)
    assert locale.format_date(born, "en") == "March 14, 1952"
    assert locale.format_date(born, "fr") == "14 mars 1952"
    assert locale.format_date(born, "zh-Hans") == "1952年3月14日"
    assert locale.format_date(born, "ko") == "1952년 3월 14일"
    assert locale.format_date(born, "ht") == "14 mas 1952"
    assert locale.format_time(dt.time(14, 5), "en") == "2:05 PM" and locale.format_time(dt.time(14, 5), "de") == "14:05"
    assert locale.format_number(1234.5, "de", 1) == "1.234,5" and locale.format_number(1234.5, "fr", 1) == "1 234,5"
    assert locale.display_name("An", "Nguyễn", "vi") == "Nguyễn An"
    assert locale.display_name("伟", "张", "zh-Hans") == "张伟"
    assert locale.display_name("Wei", "Zhang", "zh-Hans") == "Zhang Wei"
    assert locale.display_name("Maria", "Garcia", "es") == "Maria Garcia"
    assert locale.direction("ar") == "rtl" and locale.direction("he") == "rtl" and locale.direction("zh-Hant") == "ltr"
