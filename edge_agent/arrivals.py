"""The arrivals queue of one site: tickets, positions, wait estimates, status changes, the board.

Every function takes an open SQLite connection. Writers run inside `store.write(fn)` (one transaction
per request, group-committed); readers inside `store.read(fn)`. Publish events only after the write
has returned (= is durable). The staff routes (edge_agent/desk/) use it like this:

    day = arrivals.site_day(config.site.timezone)
    entries = await store.read(lambda c: arrivals.queue_entries(c, store, day))    # list[QueueEntry], PHI
    change = await store.write(lambda c: arrivals.call(c, checkin_id, room="Room 3"))  # -> Transition
    agent.publish_transition(change)              # staff + board events (see app.Agent)
    change = await store.write(lambda c: arrivals.undo_last(c, day))               # Transition | None
    state = await store.read(lambda c: arrivals.board_state(c, day, clinic_name, languages))

Statuses: waiting -> called -> roomed -> done, and waiting/called -> no_show. `call` on a called
arrival calls it again (a new called_at). A transition not allowed raises `InvalidTransition`; an
unknown id raises `UnknownArrival`. `undo_last` reverts the most recent transition of the day (repeatable,
up to UNDO_DEPTH steps back).

Tickets are `A-001` ... `A-999`, then `B-001` ... , `Z-999`, `AA-001` ...: per site per day, never
reused that day. Arrival order is insertion order (rowid: arrived_at is the agent's clock at commit, so
the two agree), which the (day, status) index yields without sorting. Position is 1-based among waiting
arrivals (1 = next). The estimated wait is the number
of people ahead times the site's own service interval: the median gap between consecutive calls among
the day's last SERVICE_SAMPLES calls (gaps over an hour ignored as idle time), DEFAULT_SERVICE_S until
there are MIN_SAMPLES gaps. Counters live in `meta` so the check-in hot path reads two rows, never counts.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
import zoneinfo
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from lobby_core.contract import BoardCall, BoardState

if TYPE_CHECKING:
    from .store import Store

DEFAULT_SERVICE_S = 300.0
SERVICE_SAMPLES = 20
MIN_SAMPLES = 3
MAX_GAP_S = 3600.0
UNDO_DEPTH = 20
BOARD_CALLING = 5
BOARD_WAITING = 60
OPEN_STATUSES = ("waiting", "called", "roomed")

ALLOWED = {
    "call": ({"waiting", "called"}, "called"),
    "room": ({"waiting", "called"}, "roomed"),
    "complete": ({"called", "roomed"}, "done"),
    "no_show": ({"waiting", "called"}, "no_show"),
}
TIMESTAMP_COLUMN = {"called": "called_at", "roomed": "roomed_at", "done": "finished_at", "no_show": "finished_at"}


class InvalidTransition(Exception):
    """The arrival is not in a status this action applies to."""


class UnknownArrival(KeyError):
    """No arrival with that check-in id."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def site_day(timezone: str, now: dt.datetime | None = None) -> str:
    """The site-local calendar day, YYYY-MM-DD."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date().isoformat()


def ticket_label(seq: int) -> str:
    """1 -> 'A-001', 999 -> 'A-999', 1000 -> 'B-001', 25975 -> 'AA-001'."""
    block, number = divmod(seq - 1, 999)
    letters, block = "", block + 1
    while block:
        block, rest = divmod(block - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}-{number + 1:03d}"


def _meta_int(conn: sqlite3.Connection, key: str, default: int = 0) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else default


def _meta_add(conn: sqlite3.Connection, key: str, delta: int) -> int:
    row = conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?"
        " RETURNING value",
        (key, str(delta), delta),
    ).fetchone()
    return int(row[0])


def issue_ticket(conn: sqlite3.Connection, day: str) -> str:
    """The next ticket of the day (inside a write transaction)."""
    seq = conn.execute(
        "INSERT INTO ticket_counters(day, last_seq) VALUES (?, 1)"
        " ON CONFLICT(day) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
        (day,),
    ).fetchone()[0]
    return ticket_label(seq)


def waiting_count(conn: sqlite3.Connection, day: str) -> int:
    return _meta_int(conn, f"queue:{day}:waiting")


def service_interval_s(conn: sqlite3.Connection, day: str) -> float:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (f"queue:{day}:service_s",)).fetchone()
    return float(row[0]) if row else DEFAULT_SERVICE_S


def estimated_wait_min(conn: sqlite3.Connection, day: str, ahead: int) -> int:
    return round(ahead * service_interval_s(conn, day) / 60)


@dataclass(frozen=True)
class NewArrival:
    checkin_id: str
    day: str
    kiosk_id: str
    appointment_id: str | None
    appointment_start: str | None
    clinician: str
    identity_source: str
    language: str
    flags: list[str]
    arrived_at: str
    patient_key: str
    details_sealed: bytes
    offline_ticket: str | None = None  # the ticket an offline kiosk already printed


@dataclass(frozen=True)
class Placement:
    ticket: str
    position: int
    estimated_wait_min: int
    flags: list[str]


def add_arrival(conn: sqlite3.Connection, arrival: NewArrival) -> Placement:
    """Insert a waiting arrival with its ticket (inside the check-in's write transaction)."""
    flags = list(arrival.flags)
    ticket = arrival.offline_ticket
    if ticket and conn.execute("SELECT 1 FROM arrivals WHERE day = ? AND ticket = ?", (arrival.day, ticket)).fetchone():
        flags.append("ticket_reissued")
        ticket = None
    ticket = ticket or issue_ticket(conn, arrival.day)
    conn.execute(
        "INSERT INTO arrivals(checkin_id, day, ticket, kiosk_id, appointment_id, appointment_start, clinician,"
        " identity_source, language, status, flags, offline, arrived_at, patient_key, details_sealed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?)",
        (
            arrival.checkin_id, arrival.day, ticket, arrival.kiosk_id, arrival.appointment_id,
            arrival.appointment_start, arrival.clinician, arrival.identity_source, arrival.language,
            json.dumps(flags), int(arrival.offline_ticket is not None), arrival.arrived_at,
            arrival.patient_key, arrival.details_sealed,
        ),
    )  # fmt: skip
    position = _meta_add(conn, f"queue:{arrival.day}:waiting", 1)
    return Placement(ticket, position, estimated_wait_min(conn, arrival.day, position - 1), flags)


# --- one visit per appointment ----------------------------------------------------------------------

ALREADY_CHECKED_IN = "already_checked_in"  # to the kiosk: the answer carries the visit's existing ticket
OFFLINE_MERGED = "offline_merged"  # for the desk: a spooled check-in of this visit was merged into it


class VisitExists(Exception):
    """The appointment already has an active arrival (migration 0011's unique index said so)."""


def active_visit(conn: sqlite3.Connection, appointment_id: str | None) -> sqlite3.Row | None:
    """The appointment's active arrival (any status but no_show), if it has arrived."""
    if appointment_id is None:
        return None
    row: sqlite3.Row | None = conn.execute(
        "SELECT rowid, * FROM arrivals WHERE appointment_id = ? AND status != 'no_show' AND duplicate_of IS NULL",
        (appointment_id,),
    ).fetchone()
    return row


def add_visit(conn: sqlite3.Connection, arrival: NewArrival) -> Placement:
    """`add_arrival`, or `VisitExists` (nothing stored, not even a ticket number) when the appointment
    already has an active arrival: the store's unique index decides, whatever raced to it."""
    conn.execute("SAVEPOINT visit")
    try:
        placement = add_arrival(conn, arrival)
    except sqlite3.IntegrityError as exc:
        conn.execute("ROLLBACK TO visit")
        conn.execute("RELEASE visit")
        if "arrivals.appointment_id" in str(exc):
            raise VisitExists(arrival.appointment_id) from None
        raise
    conn.execute("RELEASE visit")
    return placement


def position_of(conn: sqlite3.Connection, row: sqlite3.Row) -> int:
    """1-based among the day's waiting arrivals; 0 once called or later (nothing ahead to count)."""
    if row["status"] != "waiting":
        return 0
    ahead: int = conn.execute(
        "SELECT COUNT(*) FROM arrivals WHERE day = ? AND status = 'waiting' AND rowid < ?", (row["day"], row["rowid"])
    ).fetchone()[0]
    return ahead + 1


def add_flag(conn: sqlite3.Connection, checkin_id: str, flag: str) -> bool:
    """Add a desk flag to an arrival (inside a write); False when it already had it."""
    flags: list[str] = json.loads(_arrival_row(conn, checkin_id)["flags"])
    if flag in flags:
        return False
    conn.execute("UPDATE arrivals SET flags = ? WHERE checkin_id = ?", (json.dumps([*flags, flag]), checkin_id))
    return True


# --- status changes ---------------------------------------------------------------------------------


class StatusBefore(TypedDict):
    """An arrival's status columns before a change: what undo puts back."""

    status: str
    room: str
    called_at: str | None
    roomed_at: str | None
    finished_at: str | None


class UndoStep(TypedDict):
    checkin_id: str
    action: str
    before: StatusBefore


@dataclass(frozen=True)
class Transition:
    """One status change, enough to publish it and to undo it."""

    checkin_id: str
    day: str
    ticket: str
    action: str  # call / room / complete / no_show / undo
    from_status: str
    to_status: str
    room: str
    at: str
    called_at: str | None = None


def _arrival_row(conn: sqlite3.Connection, checkin_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(f"SELECT {WITH_CARD} FROM arrivals WHERE checkin_id = ?", (checkin_id,)).fetchone()
    if row is None:
        raise UnknownArrival(checkin_id)
    return row


def _waiting_delta(from_status: str, to_status: str) -> int:
    return (to_status == "waiting") - (from_status == "waiting")


def _transition(conn: sqlite3.Connection, checkin_id: str, action: str, room: str | None) -> Transition:
    allowed_from, to_status = ALLOWED[action]
    row = _arrival_row(conn, checkin_id)
    if row["status"] not in allowed_from:
        raise InvalidTransition(f"cannot {action.replace('_', '-')} an arrival that is {row['status']}")
    at = now_iso()
    new_room = row["room"] if room is None else room
    snapshot: StatusBefore = {"status": row["status"], "room": row["room"], "called_at": row["called_at"],
                              "roomed_at": row["roomed_at"], "finished_at": row["finished_at"]}  # fmt: skip
    conn.execute(
        f"UPDATE arrivals SET status = ?, room = ?, {TIMESTAMP_COLUMN[to_status]} = ? WHERE checkin_id = ?",
        (to_status, new_room, at, checkin_id),
    )
    day = row["day"]
    if delta := _waiting_delta(row["status"], to_status):
        _meta_add(conn, f"queue:{day}:waiting", delta)
    if to_status == "called":
        _update_service_interval(conn, day)
    _push_undo(conn, day, {"checkin_id": checkin_id, "action": action, "before": snapshot})
    called_at = at if to_status == "called" else row["called_at"]
    return Transition(checkin_id, day, row["ticket"], action, row["status"], to_status, new_room, at, called_at)


def call(conn: sqlite3.Connection, checkin_id: str, room: str | None = None) -> Transition:
    return _transition(conn, checkin_id, "call", room)


def room(conn: sqlite3.Connection, checkin_id: str, room: str | None = None) -> Transition:
    return _transition(conn, checkin_id, "room", room)


def complete(conn: sqlite3.Connection, checkin_id: str) -> Transition:
    return _transition(conn, checkin_id, "complete", None)


def no_show(conn: sqlite3.Connection, checkin_id: str) -> Transition:
    return _transition(conn, checkin_id, "no_show", None)


def _undo_key(day: str) -> str:
    return f"queue:{day}:undo"


def _push_undo(conn: sqlite3.Connection, day: str, step: UndoStep) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_undo_key(day),)).fetchone()
    stack: list[UndoStep] = json.loads(row[0]) if row else []
    stack = (stack + [step])[-UNDO_DEPTH:]
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (_undo_key(day), json.dumps(stack)),
    )


def undo_last(conn: sqlite3.Connection, day: str) -> Transition | None:
    """Revert the day's most recent status change; None when there is nothing left to undo."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_undo_key(day),)).fetchone()
    stack: list[UndoStep] = json.loads(row[0]) if row else []
    if not stack:
        return None
    step = stack.pop()
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(stack), _undo_key(day)))
    current = _arrival_row(conn, step["checkin_id"])
    before = step["before"]
    try:
        conn.execute(
            "UPDATE arrivals SET status = ?, room = ?, called_at = ?, roomed_at = ?, finished_at = ? WHERE checkin_id = ?",
            (before["status"], before["room"], before["called_at"], before["roomed_at"], before["finished_at"],
             step["checkin_id"]),
        )  # fmt: skip
    except sqlite3.IntegrityError:  # un-no-showing a visit the patient has since checked in to again
        raise InvalidTransition("cannot undo: this appointment has checked in again since") from None
    if delta := _waiting_delta(current["status"], before["status"]):
        _meta_add(conn, f"queue:{day}:waiting", delta)
    if current["status"] == "called":
        _update_service_interval(conn, day)
    return Transition(
        step["checkin_id"], day, current["ticket"], "undo", current["status"], before["status"], before["room"],
        now_iso(), before["called_at"],
    )  # fmt: skip


def _update_service_interval(conn: sqlite3.Connection, day: str) -> None:
    calls = [
        dt.datetime.fromisoformat(value)
        for (value,) in conn.execute(
            "SELECT called_at FROM arrivals WHERE day = ? AND called_at IS NOT NULL ORDER BY called_at DESC LIMIT ?",
            (day, SERVICE_SAMPLES + 1),
        )
    ]
    gaps = [(later - earlier).total_seconds() for later, earlier in zip(calls, calls[1:])]
    gaps = [gap for gap in gaps if 0 < gap <= MAX_GAP_S]
    key = f"queue:{day}:service_s"
    if len(gaps) >= MIN_SAMPLES:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, repr(statistics.median(gaps))),
        )
    else:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))


# --- views ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    """One arrival as the front desk sees it. `patient` holds PHI: staff routes only."""

    checkin_id: str
    ticket: str
    status: str
    position: int | None  # among waiting arrivals, 1 = next; None when not waiting
    room: str
    flags: list[str]
    kiosk_id: str
    appointment_id: str | None
    appointment_start: str | None
    clinician: str
    identity_source: str
    language: str
    offline: bool
    arrived_at: str
    called_at: str | None
    roomed_at: str | None
    finished_at: str | None
    patient: dict[str, Any] = field(default_factory=dict)  # family, given, birth_date, coverage, ...; {} once purged
    eligibility: dict[str, Any] = field(default_factory=dict)  # the desk's view of the coverage check (eligibility.summary.DeskView)
    # A scanned insurance card (edge_agent/insurance_cards.py): how many of its fields the desk should
    # check (read with low confidence); None without a card, or once it was purged. No PHI.
    card_fields_to_check: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


WITH_CARD = (
    "arrivals.*, (SELECT review_count FROM insurance_cards AS card WHERE card.checkin_id = arrivals.checkin_id"
    " AND length(card.front_sealed) > 0) AS card_review"
)  # an arrival's row with its card's count of fields to check (NULL: no card, or purged)


def details_context(checkin_id: str) -> str:
    """The AES-GCM context that binds an arrival's sealed details to its check-in id."""
    return f"arrival:{checkin_id}"


def eligibility_context(checkin_id: str) -> str:
    """The AES-GCM context of an arrival's sealed eligibility view (edge_agent/eligibility/checks.py)."""
    return f"eligibility-view:{checkin_id}"


def _entry(row: sqlite3.Row, store: "Store", position: int | None) -> QueueEntry:
    return QueueEntry(
        checkin_id=row["checkin_id"], ticket=row["ticket"], status=row["status"], position=position,
        room=row["room"], flags=json.loads(row["flags"]), kiosk_id=row["kiosk_id"],
        appointment_id=row["appointment_id"], appointment_start=row["appointment_start"],
        clinician=row["clinician"], identity_source=row["identity_source"], language=row["language"],
        offline=bool(row["offline"]), arrived_at=row["arrived_at"], called_at=row["called_at"],
        roomed_at=row["roomed_at"], finished_at=row["finished_at"],
        patient=store.unseal_json(row["details_sealed"], details_context(row["checkin_id"])) if row["details_sealed"] else {},
        eligibility=store.unseal_json(row["eligibility_sealed"], eligibility_context(row["checkin_id"]))
        if row["eligibility_sealed"] else {},
        card_fields_to_check=row["card_review"] if "card_review" in row.keys() else None,
    )  # fmt: skip


def queue_entries(
    conn: sqlite3.Connection, store: "Store", day: str, statuses: tuple[str, ...] = OPEN_STATUSES
) -> list[QueueEntry]:
    """The day's arrivals in the given statuses, in arrival order, with unsealed patient details."""
    marks = ",".join("?" * len(statuses))
    rows = conn.execute(
        f"SELECT {WITH_CARD} FROM arrivals WHERE day = ? AND status IN ({marks}) ORDER BY rowid", (day, *statuses)
    ).fetchall()
    entries, waiting_seen = [], 0
    for row in rows:
        position = None
        if row["status"] == "waiting":
            waiting_seen += 1
            position = waiting_seen
        entries.append(_entry(row, store, position))
    return entries


def queue_entry(conn: sqlite3.Connection, store: "Store", checkin_id: str) -> QueueEntry:
    """One arrival (any status) with its details; its position counts the waiting arrivals before it."""
    row = _arrival_row(conn, checkin_id)
    position = None
    if row["status"] == "waiting":
        position = 1 + conn.execute(
            "SELECT COUNT(*) FROM arrivals WHERE day = ? AND status = 'waiting' AND rowid < "
            "(SELECT rowid FROM arrivals WHERE checkin_id = ?)",
            (row["day"], checkin_id),
        ).fetchone()[0]
    return _entry(row, store, position)


def board_state(conn: sqlite3.Connection, day: str, clinic_name: str, languages: list[str]) -> BoardState:
    """Tickets and "now calling" only: the board and the kiosk attract screen show nothing else."""
    calling = conn.execute(
        "SELECT ticket, room, called_at FROM arrivals WHERE day = ? AND status = 'called'"
        " ORDER BY called_at DESC LIMIT ?",
        (day, BOARD_CALLING),
    ).fetchall()
    waiting = conn.execute(
        "SELECT ticket FROM arrivals WHERE day = ? AND status = 'waiting' ORDER BY rowid LIMIT ?",
        (day, BOARD_WAITING),
    ).fetchall()
    return BoardState(
        clinic_name=clinic_name,
        now_calling=[BoardCall(ticket=t, room=r, called_at=dt.datetime.fromisoformat(c)) for t, r, c in calling],
        waiting=[t for (t,) in waiting],
        languages=languages,
        updated_at=dt.datetime.now(dt.UTC),
    )
