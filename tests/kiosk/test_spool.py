"""The offline spool: durable, encrypted, its own ticket range, idempotent, ordered, across restarts."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid

from lobby_core.contract import CheckinRequest, PatientIdentity
from kiosk.spool import Spool

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def request(family: str) -> CheckinRequest:
    return CheckinRequest(checkin_id=uuid.uuid4(), kiosk_id="kiosk-2", appointment_id=None, identity_source="manual",
                          patient=PatientIdentity(family=family, birth_date=dt.date(1956, 3, 14)))


def test_spooled_checkins_get_kiosk_tickets_and_survive_a_restart_in_order(tmp_path):
    spool = Spool(tmp_path, "K2")
    first, second = request("Garcia"), request("Nguyen")
    assert spool.add(first, NOW).ticket == "K2-001"
    assert spool.add(second, NOW).ticket == "K2-002"
    spool.close()

    reopened = Spool(tmp_path, "K2")
    pending = reopened.pending()
    assert [p.checkin_id for p in pending] == [first.checkin_id, second.checkin_id]
    assert pending[0].offline.kiosk_ticket == "K2-001" and pending[0].patient.family == "Garcia"
    assert reopened.add(request("Smith"), NOW).ticket == "K2-003"


def test_adding_the_same_checkin_twice_keeps_one_with_one_ticket(tmp_path):
    spool = Spool(tmp_path, "K2")
    same = request("Garcia")
    assert spool.add(same, NOW).ticket == spool.add(same, NOW).ticket == "K2-001"
    assert spool.depth() == 1


def test_delivered_entries_leave_the_kiosk_and_rejected_ones_stop_being_retried(tmp_path):
    spool = Spool(tmp_path, "K2")
    a, b = request("Garcia"), request("Nguyen")
    spool.add(a, NOW)
    spool.add(b, NOW)
    spool.delivered(a.checkin_id)
    spool.rejected(b.checkin_id, "422 invalid")
    assert spool.pending() == [] and spool.depth() == 0 and spool.rejected_count() == 1


def test_nothing_readable_at_rest(tmp_path):
    spool = Spool(tmp_path, "K2")
    spool.add(request("Garcia"), NOW)
    spool.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("spool.db"))
    assert b"Garcia" not in raw and b"1956" not in raw
    assert (tmp_path / "spool.key").stat().st_mode & 0o077 == 0
    rows = sqlite3.connect(tmp_path / "spool.db").execute("SELECT count(*) FROM spooled").fetchone()
    assert rows == (1,)
