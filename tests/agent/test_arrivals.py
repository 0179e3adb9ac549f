"""The arrivals queue domain on a real SQLite store: tickets, positions, wait estimate, transitions, undo."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest

from edge_agent import arrivals
from edge_agent.keys import SiteKey
from edge_agent.store import Store

DAY = "2026-05-04"


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "agent.db", SiteKey(secrets.token_bytes(32)))
    yield store
    store.close()


def arrive(store: Store, checkin_id: str, offline_ticket: str | None = None) -> arrivals.Placement:
    new = arrivals.NewArrival(
        checkin_id=checkin_id, day=DAY, kiosk_id="kiosk-1", appointment_id=None, appointment_start=None,
        clinician="", identity_source="manual", language="en", flags=[], arrived_at=arrivals.now_iso(),
        patient_key="pk", details_sealed=store.seal_json({"family": "Doe"}, arrivals.details_context(checkin_id)),
        offline_ticket=offline_ticket,
    )  # fmt: skip
    return store.write_sync(lambda c: arrivals.add_arrival(c, new))


@pytest.mark.parametrize("seq, label", [(1, "A-001"), (999, "A-999"), (1000, "B-001"), (25974, "Z-999"), (25975, "AA-001")])
def test_ticket_labels(seq: int, label: str) -> None:
    assert arrivals.ticket_label(seq) == label


def test_positions_and_default_wait(store: Store) -> None:
    placements = [arrive(store, f"c{n}") for n in range(4)]
    assert [p.ticket for p in placements] == ["A-001", "A-002", "A-003", "A-004"]
    assert [p.position for p in placements] == [1, 2, 3, 4]
    assert [p.estimated_wait_min for p in placements] == [0, 5, 10, 15]  # DEFAULT_SERVICE_S per person ahead


def test_wait_estimate_follows_the_sites_own_call_rhythm(store: Store) -> None:
    for n in range(6):
        arrive(store, f"c{n}")
    base = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
    for n in range(4):  # calls 2 minutes apart
        store.write_sync(lambda c: arrivals.call(c, f"c{n}"))
        called = (base + dt.timedelta(minutes=2 * n)).isoformat()
        store.write_sync(lambda c: c.execute("UPDATE arrivals SET called_at = ? WHERE checkin_id = ?", (called, f"c{n}")))
    store.write_sync(lambda c: arrivals._update_service_interval(c, DAY))
    assert store.read_sync(lambda c: arrivals.service_interval_s(c, DAY)) == 120.0
    placement = arrive(store, "late")  # 3 waiting: c4, c5, late
    assert placement.position == 3 and placement.estimated_wait_min == 4


def test_transitions_undo_and_board(store: Store) -> None:
    for n in range(3):
        arrive(store, f"c{n}")
    call = store.write_sync(lambda c: arrivals.call(c, "c0", room="Room 2"))
    assert (call.from_status, call.to_status, call.ticket, call.room) == ("waiting", "called", "A-001", "Room 2")
    store.write_sync(lambda c: arrivals.room(c, "c0"))
    store.write_sync(lambda c: arrivals.no_show(c, "c1"))
    with pytest.raises(arrivals.InvalidTransition):
        store.write_sync(lambda c: arrivals.complete(c, "c2"))
    with pytest.raises(arrivals.UnknownArrival):
        store.write_sync(lambda c: arrivals.call(c, "nope"))
    assert store.read_sync(lambda c: arrivals.waiting_count(c, DAY)) == 1
    undone = store.write_sync(lambda c: arrivals.undo_last(c, DAY))  # the no-show
    assert (undone.checkin_id, undone.to_status) == ("c1", "waiting")
    assert store.read_sync(lambda c: arrivals.waiting_count(c, DAY)) == 2
    entries = store.read_sync(lambda c: arrivals.queue_entries(c, store, DAY))
    assert [(e.ticket, e.status, e.position) for e in entries] == [("A-001", "roomed", None), ("A-002", "waiting", 1), ("A-003", "waiting", 2)]
    assert entries[1].patient == {"family": "Doe"}
    store.write_sync(lambda c: arrivals.undo_last(c, DAY))  # the rooming
    store.write_sync(lambda c: arrivals.undo_last(c, DAY))  # the call
    assert store.write_sync(lambda c: arrivals.undo_last(c, DAY)) is None
    assert store.read_sync(lambda c: arrivals.waiting_count(c, DAY)) == 3
    board = store.read_sync(lambda c: arrivals.board_state(c, DAY, "Clinic", ["en"]))
    assert board.waiting == ["A-001", "A-002", "A-003"] and board.now_calling == []


def test_offline_ticket_is_kept_unless_taken(store: Store) -> None:
    assert arrive(store, "a", offline_ticket="K1-001").ticket == "K1-001"
    again = arrive(store, "b", offline_ticket="K1-001")
    assert again.ticket == "A-001" and "ticket_reissued" in again.flags


def test_undo_restores_each_earlier_state_exactly_timestamps_included(store: Store) -> None:
    arrive(store, "c0")
    arrive(store, "c1")

    def state() -> tuple:
        rows = store.read_sync(lambda c: c.execute(
            "SELECT checkin_id, status, room, called_at, roomed_at, finished_at FROM arrivals ORDER BY rowid").fetchall())
        return tuple(tuple(row) for row in rows), store.read_sync(lambda c: arrivals.waiting_count(c, DAY))

    steps = [
        (arrivals.call, "c0", {"room": "Room 1"}, "called_at"),
        (arrivals.call, "c0", {"room": "Room 2"}, "called_at"),  # called again: a new called_at
        (arrivals.room, "c0", {}, "roomed_at"),
        (arrivals.call, "c1", {}, "called_at"),
        (arrivals.complete, "c0", {}, "finished_at"),
        (arrivals.no_show, "c1", {}, "finished_at"),
    ]
    states = [state()]
    for minute, (action, checkin_id, options, column) in enumerate(steps):
        store.write_sync(lambda c: action(c, checkin_id, **options))
        # A distinct instant per step, so that restoring any other step's value would show.
        at = f"2026-05-04T09:{minute:02d}:00.000+00:00"
        store.write_sync(lambda c: c.execute(f"UPDATE arrivals SET {column} = ? WHERE checkin_id = ?", (at, checkin_id)))
        states.append(state())
    assert states[-1][0] == (
        ("c0", "done", "Room 2", "2026-05-04T09:01:00.000+00:00", "2026-05-04T09:02:00.000+00:00", "2026-05-04T09:04:00.000+00:00"),
        ("c1", "no_show", "", "2026-05-04T09:03:00.000+00:00", None, "2026-05-04T09:05:00.000+00:00"),
    )

    for (_, checkin_id, _, _), before in zip(reversed(steps), reversed(states[:-1])):
        undone = store.write_sync(lambda c: arrivals.undo_last(c, DAY))
        assert state() == before
        restored = next(row for row in before[0] if row[0] == checkin_id)
        assert (undone.checkin_id, undone.action, undone.to_status, undone.room, undone.called_at) == (
            checkin_id, "undo", restored[1], restored[2], restored[3])
    assert store.write_sync(lambda c: arrivals.undo_last(c, DAY)) is None


def visit(store: Store, checkin_id: str, appointment_id: str) -> arrivals.NewArrival:
    return arrivals.NewArrival(
        checkin_id=checkin_id, day=DAY, kiosk_id="kiosk-1", appointment_id=appointment_id, appointment_start=None,
        clinician="", identity_source="manual", language="en", flags=[], arrived_at=arrivals.now_iso(),
        patient_key="pk", details_sealed=store.seal_json({"family": "Doe"}, arrivals.details_context(checkin_id)),
    )  # fmt: skip


def test_one_active_arrival_per_appointment_and_undoing_a_no_show_that_checked_in_again(store: Store) -> None:
    """Issue #13 (6), in the store: a second arrival of an appointment is `VisitExists` with not even a
    ticket number used; after a no-show the patient may check in again, and undoing that no-show is
    refused (two active visits) rather than failing the desk with a 500."""
    first = store.write_sync(lambda c: arrivals.add_visit(c, visit(store, "v1", "appt-1")))
    with pytest.raises(arrivals.VisitExists):
        store.write_sync(lambda c: arrivals.add_visit(c, visit(store, "v2", "appt-1")))
    assert arrive(store, "walk-in").ticket == "A-002"  # the refused visit took no ticket number
    assert first.ticket == "A-001"
    store.write_sync(lambda c: arrivals.no_show(c, "v1"))
    again = store.write_sync(lambda c: arrivals.add_visit(c, visit(store, "v3", "appt-1")))
    assert again.ticket == "A-003"
    with pytest.raises(arrivals.InvalidTransition):
        store.write_sync(lambda c: arrivals.undo_last(c, DAY))
    assert store.read_sync(lambda c: c.execute("SELECT status FROM arrivals WHERE checkin_id = 'v1'").fetchone()[0]) == "no_show"
