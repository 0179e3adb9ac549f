"""Scans as the flow sees them: licence -> identity -> lookup; reminder QR -> type to confirm; junk -> a notice."""

from __future__ import annotations

import datetime as dt

import pytest

from lobby_core import reminder
from kiosk.devices.base import Scanned
from kiosk.flow import Flow, FlowSettings, ReminderScanned, ScanRefused, Step
from kiosk.scan import ScanReader
from tests.kiosk.samples import TODAY, Clock


def licence(family: str = "ROSSI", given: str = "GIULIA", born: str = "03031962") -> str:
    body = f"DL\nDCS{family}\nDAC{given}\nDBB{born}\nDBA01012031\nDAG12 ELM ST\nDAISPRINGFIELD\nDAJIL\nDAK627010000\nDAQD1234567\nDCGUSA\r"
    return f"@\n\x1e\rANSI 636014100001DL0031{len(body):04d}{body}"


@pytest.fixture(scope="module")
def signing_key():
    return reminder.new_private_key()


@pytest.fixture
def reader(signing_key) -> ScanReader:
    return ScanReader(reminder.public_key_b64(signing_key), site_id="test-site")


def test_licence_becomes_an_identity_with_address(reader):
    identity = reader(licence())
    assert (identity.family_name, identity.given_names, identity.birth_date) == ("ROSSI", "GIULIA", dt.date(1962, 3, 3))
    assert identity.source == "aamva" and identity.address_street == "12 ELM ST"


def test_unreadable_barcode_is_refused_with_a_notice(reader):
    assert reader("@\n\x1e\rANSI 6360141000") == ScanRefused("identify.unreadable")
    assert reader("hello") == ScanRefused("identify.unreadable")


def test_reminders_verified_then_identify_nobody_on_their_own(reader, signing_key):
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    good = reminder.sign(signing_key, "test-site", "demo-1", later)
    assert reader(good) == ReminderScanned(good)
    expired = reminder.sign(signing_key, "test-site", "demo-1", dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))
    assert reader(expired) == ScanRefused("identify.reminder_expired")
    assert reader(reminder.sign(signing_key, "other-site", "demo-1", later)) == ScanRefused("identify.reminder_other_site")
    forged = reminder.sign(reminder.new_private_key(), "test-site", "demo-1", later)
    assert reader(forged) == ScanRefused("identify.reminder_invalid")


def test_reminder_scan_asks_only_for_the_birth_date_then_sends_the_token_without_a_name(reader, signing_key):
    token = reminder.sign(signing_key, "test-site", "demo-1", dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))
    flow = Flow(FlowSettings(), clock=Clock(), now=lambda: TODAY, read_scan=reader)
    flow.device_event(Scanned("scanner", token))
    assert (flow.step, flow.notice, flow.session.typed.focus) == (Step.MANUAL, "identify.reminder_ok", "birth")
    for char in "03031962":
        flow.key(char)
    [lookup] = flow.next_field()
    assert lookup.request.reminder_token == token and lookup.request.identity_source == "manual"
    assert lookup.request.family is None and lookup.request.birth_date == dt.date(1962, 3, 3)


def test_licence_scan_drives_the_flow_to_lookup(reader):
    flow = Flow(FlowSettings(), clock=Clock(), now=lambda: TODAY, read_scan=reader)
    [lookup] = flow.device_event(Scanned("scanner", licence()))
    assert lookup.request.family == "ROSSI" and lookup.request.identity_source == "aamva"
