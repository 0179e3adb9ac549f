"""Signed appointment-reminder QR codes: genuine codes verify; forged, altered, expired or foreign ones are refused."""

from __future__ import annotations

import datetime as dt

import pytest

from lobby_core import reminder

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def key():
    return reminder.new_private_key()


def code(key, site="demo-clinic", appointment="appt-42", expires=NOW + dt.timedelta(days=2)):
    return reminder.sign(key, site, appointment, expires)


def test_genuine_code_verifies(key):
    result = reminder.verify(reminder.public_key_b64(key), code(key), site="demo-clinic", now=NOW)
    assert (result.site, result.appointment) == ("demo-clinic", "appt-42")
    assert reminder.looks_like_reminder(code(key))


def test_code_signed_by_another_key_is_refused(key):
    with pytest.raises(reminder.ReminderError) as refused:
        reminder.verify(reminder.public_key_b64(reminder.new_private_key()), code(key), now=NOW)
    assert refused.value.key == "reminder.invalid"


def test_altered_payload_is_refused(key):
    genuine = code(key)
    prefix, payload, signature = genuine.split(".")
    other = code(key, appointment="appt-43").split(".")[1]
    for altered in (f"{prefix}.{other}.{signature}", genuine[:-2] + ("AA" if genuine[-2:] != "AA" else "BB")):
        with pytest.raises(reminder.ReminderError) as refused:
            reminder.verify(reminder.public_key_b64(key), altered, now=NOW)
        assert refused.value.key == "reminder.invalid"


def test_expired_and_foreign_codes_are_refused_with_their_own_keys(key):
    public = reminder.public_key_b64(key)
    with pytest.raises(reminder.ReminderError) as expired:
        reminder.verify(public, code(key, expires=NOW - dt.timedelta(minutes=1)), now=NOW)
    assert expired.value.key == "reminder.expired"
    with pytest.raises(reminder.ReminderError) as foreign:
        reminder.verify(public, code(key, site="other-clinic"), site="demo-clinic", now=NOW)
    assert foreign.value.key == "reminder.other_site"


@pytest.mark.parametrize("text", ["", "CHK1", "CHK1..", "CHK1.e30.AAAA", "CHK2.a.b", "x" * 2000, "CHK1.!!!.###"])
def test_malformed_codes_are_refused(key, text):
    with pytest.raises(reminder.ReminderError):
        reminder.verify(reminder.public_key_b64(key), text, now=NOW)


def test_missing_public_key_is_a_clear_refusal(key):
    with pytest.raises(reminder.ReminderError) as refused:
        reminder.verify("", code(key), now=NOW)
    assert "public key" in str(refused.value)

