"""A wiped session holds nothing of the patient: not in any field, not nested anywhere."""

from __future__ import annotations

import datetime as dt

from kiosk.devices.base import CardInserted
from kiosk.session import Session

from kiosk.flow import Flow, FlowSettings
from tests.kiosk.samples import CARD, MARIA, SIGNATURE, TODAY, Clock, form, matched


def everything_in(value, seen=None) -> str:
    """Every string reachable from `value` (dataclasses, pydantic models, containers), joined."""
    seen = seen if seen is not None else set()
    if id(value) in seen:
        return ""
    seen.add(id(value))
    if isinstance(value, (str, bytes)):
        return value if isinstance(value, str) else value.decode("latin-1")
    if isinstance(value, (int, float, bool, type(None))):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return " ".join(everything_in(k, seen) + " " + everything_in(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return " ".join(everything_in(item, seen) for item in value)
    if hasattr(value, "__dict__"):
        return everything_in(vars(value), seen)
    if hasattr(value, "__dataclass_fields__"):
        return " ".join(everything_in(getattr(value, name), seen) for name in value.__dataclass_fields__)
    return ""


PHI = ["GARCIA", "Garcia", "Maria", "1956-03-14", "Acme Health", "ACME-998877", "Dr. Okafor", "appt-42", "14031956", "privacy"]


def test_wipe_leaves_no_phi_in_the_session():
    flow = Flow(FlowSettings(device_kinds={"reader": "card_reader"}), clock=Clock(), now=lambda: TODAY,
                read_scan={"@X": MARIA}.get, date_order=lambda language: "DMY")
    flow.start()
    flow.type_by_hand()
    for char in "Garcia":
        flow.key(char)
    flow.focus("birth")
    for char in "14031956":
        flow.key(char)
    flow.back()
    flow.device_event(CardInserted("reader", CARD))
    flow.lookup_answered(matched(forms=[form("privacy"), form("photo")]))
    flow.confirm()
    flow.review_done()
    flow.sign(SIGNATURE)
    flow.session.scan_buffer = "@ANSI 636014 GARCIA"
    before = everything_in(flow.session)
    assert [marker for marker in PHI if marker not in before] == [], "the test must first see the PHI it then expects gone"
    old_id = flow.session.checkin_id

    flow.finish()

    after = everything_in(flow.session)
    assert [marker for marker in PHI if marker in after] == []
    assert flow.session.checkin_id != old_id
    assert flow.session.consents == [] and flow.session.identity is None


def test_idle_timer_restarts_on_touch():
    now = [0.0]
    session = Session(clock=lambda: now[0])
    now[0] = 42
    assert session.idle_for() == 42
    session.touch()
    assert session.idle_for() == 0
