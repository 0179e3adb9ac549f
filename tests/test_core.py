"""lobby_core's shared rules: loopback, the kiosk's view of a site file, comparison, outbox events, catalogues."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lobby_core import catalogue, comparison, site_config
from lobby_core.contract import Address, CheckinRequest, CoverageInfo, Demographics
from lobby_core.outbox_events import CheckinV1, PatientUpdateV1, UnknownEvent, parse_event
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR, is_loopback
import zoneinfo

from edge_agent.schedule import demo_appointments
from tests.sync.conftest import checkin_payload

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("host, expected", [
    ("localhost", True), ("127.0.0.1", True), ("127.5.0.9", True), ("::1", True), ("[::1]", True),
    ("10.0.0.5", False), ("0.0.0.0", False), ("agent.clinic.lan", False), ("", False),
])  # fmt: skip
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected  # a host name is never trusted as loopback, and never raises


def test_the_kiosk_reads_a_full_site_file_and_still_rejects_a_misspelt_section(tmp_path):
    kiosk = site_config.load(REPO / "config" / "site.example.toml", site_config.KioskSiteConfig)
    assert kiosk.kiosk.devices and kiosk.agent.host == "127.0.0.1"
    (tmp_path / "site.toml").write_text('[agent]\nlisten = "[::1]:9000"\nretention_days = 0\n[kiosks]\nid = "x"\n')
    with pytest.raises(site_config.ConfigError) as caught:
        site_config.load(tmp_path / "site.toml", site_config.KioskSiteConfig)
    assert caught.value.problems == ["kiosks: unknown key (check the spelling against config/site.example.toml)"]


def test_address_rule_street_and_postcode_prefix():
    on_file = Address(street="12 Elm St", city="Springfield", postal_code="62701")
    assert comparison.same_address(Address(street="12 ELM ST.", city="SPRINGFIELD", postal_code="62701-1234"), on_file)
    assert comparison.same_address(Address(street="12 Elm St", city="Sprngfld", postal_code="62701"), on_file)
    assert not comparison.same_address(Address(street="14 Elm St", postal_code="62701"), on_file)
    assert not comparison.same_address(Address(street="12 Elm St", postal_code="62704"), on_file)
    assert not comparison.same_address(on_file, None)
    file = Demographics(address=on_file, phone="(555) 010-1234")
    assert not comparison.demographics_changed(Demographics(phone="555 0101234"), file)
    assert comparison.demographics_changed(Demographics(phone="555-0199"), file)
    assert not comparison.demographics_changed(None, file)


def test_coverage_rule():
    on_file = CoverageInfo(payor="Blue Harbor Health", member_id="XG123", source="file")
    assert not comparison.coverage_changed(CoverageInfo(payor="BLUE HARBOR HEALTH", member_id="xg123", source="card"), on_file)
    assert comparison.coverage_changed(CoverageInfo(payor="Blue Harbor Health", member_id="XG124", source="card"), on_file)
    assert comparison.coverage_changed(CoverageInfo(payor="Any", member_id="1", source="card"), None)


def test_a_stored_checkin_payload_parses_and_writes_back_the_same_json():
    appointment = demo_appointments("demo-clinic", dt.date(2026, 1, 5), zoneinfo.ZoneInfo("UTC"))[0]
    stored = checkin_payload(appointment)
    # what the check-in transaction wrote before the typed events: the request's full JSON, ISO milliseconds
    stored["checkin"] = CheckinRequest.model_validate(stored["checkin"]).model_dump(mode="json")
    stored["arrived_at"] = "2026-01-05T10:00:00.123+00:00"
    event = parse_event("checkin.v1", json.loads(json.dumps(stored)))
    assert isinstance(event, CheckinV1) and event.appointment == appointment
    assert json.loads(json.dumps(event.payload())) == json.loads(json.dumps(stored))
    update = {"checkin_id": "c-1", "patient_id": "p-1", "demographics": {"address": None, "phone": "555", "email": ""}}
    # an update queued before ADT^A08 existed: it still parses, and writing it back adds only the new
    # optional fields at their defaults
    assert parse_event(PatientUpdateV1.event_name, update).payload() == {**update, "patient": None, "mrn": ""}
    with pytest.raises(UnknownEvent):
        parse_event("checkin.v0", stored)


def test_one_fallback_rule_language_then_site_default_then_english(tmp_path):
    for language, words in {"en": {"a": "A-en", "b": "B-en", "c": "C-en"}, "es": {"a": "A-es", "b": "B-es"}, "fr": {"a": "A-fr"}}.items():
        (tmp_path / f"desk.{language}.json").write_text(json.dumps(words))
    desk = catalogue.read(tmp_path, "desk", default_language="es")
    assert [desk.text("fr", key) for key in "abc"] == ["A-fr", "B-es", "C-en"]
    assert desk.messages("de")["a"] == "A-es"  # an unknown language reads as the site default


@pytest.mark.parametrize("family", ["kiosk", "devices", "desk", "consent-pdf", "board"])
def test_every_shipped_catalogue_key_exists_in_english(family):
    shipped = catalogue.read(DEFAULT_TRANSLATIONS_DIR, family)
    assert "en" in shipped.languages
    for language in shipped.languages:
        assert shipped.keys(language) <= shipped.keys("en"), language
