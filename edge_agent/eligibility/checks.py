"""The eligibility checks in the store: one row per patient per day of service, PHI sealed.

Every function takes an open connection and runs inside `store.write` / `store.read`. The request
(who and what is asked) and the summary (what the payer said) are sealed under the site key, bound to
the row's patient pseudonym and day; state, attempts, times, control number and error code are plain
(no PHI). The arrivals of that patient that day carry the desk's view in `arrivals.eligibility_sealed`
and the `coverage_inactive` flag.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from .. import arrivals
from .summary import DeskView, EligibilitySummary

if TYPE_CHECKING:
    from ..store import Store

INACTIVE_FLAG = "coverage_inactive"
CONTROL_KEY = "eligibility:control_number"


def request_context(patient_key: str, day: str) -> str:
    return f"eligibility-request:{patient_key}:{day}"


def summary_context(patient_key: str, day: str) -> str:
    return f"eligibility-summary:{patient_key}:{day}"


class CheckRequest(TypedDict):
    """What is asked, as sealed in `request_sealed` (EligibilityService._request writes it)."""

    family: str
    given: str
    birth_date: str  # ISO
    member_id: str
    payer_name: str
    payer_id: str  # "" when the site maps no payer id to the payer's name
    day: str  # ISO day of service
    coverage_key: str


@dataclass(frozen=True)
class Check:
    patient_key: str
    day: str
    coverage_key: str
    state: str
    attempts: int
    next_attempt_at: float | None
    checked_at: float | None
    answered_at: float | None
    control_number: str
    error: str
    request: CheckRequest
    summary: EligibilitySummary | None


def next_control_number(conn: sqlite3.Connection) -> int:
    """A new interchange control number (ISA13 = GS06 = ST02), never handed out twice."""
    row = conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET"
        " value = CAST(value AS INTEGER) % 999999999 + 1 RETURNING value",
        (CONTROL_KEY,),
    ).fetchone()
    return int(row[0])


def _check(row: sqlite3.Row, store: "Store") -> Check:
    key, day = row["patient_key"], row["day"]
    summary = None
    if row["summary_sealed"] is not None:
        summary = EligibilitySummary.model_validate(store.unseal_json(row["summary_sealed"], summary_context(key, day)))
    return Check(
        patient_key=key, day=day, coverage_key=row["coverage_key"], state=row["state"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], checked_at=row["checked_at"], answered_at=row["answered_at"],
        control_number=row["control_number"], error=row["error"],
        request=store.unseal_json(row["request_sealed"], request_context(key, day)), summary=summary,
    )  # fmt: skip


def get(conn: sqlite3.Connection, store: "Store", patient_key: str, day: str) -> Check | None:
    row = conn.execute("SELECT * FROM eligibility_checks WHERE patient_key = ? AND day = ?", (patient_key, day)).fetchone()
    return _check(row, store) if row else None


def schedule(
    conn: sqlite3.Connection, store: "Store", patient_key: str, day: str, coverage_key: str, request: CheckRequest, due_at: float,
    *, replace: bool,
) -> bool:  # fmt: skip
    """Ask (again) at `due_at`. Without `replace` an existing check of that patient and day is kept.
    Returns whether a check was (re)scheduled."""
    sealed = store.seal_json(request, request_context(patient_key, day))
    if replace:
        conn.execute(
            "INSERT INTO eligibility_checks(patient_key, day, coverage_key, state, next_attempt_at, request_sealed)"
            " VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT(patient_key, day) DO UPDATE SET"
            " coverage_key = excluded.coverage_key, state = 'pending', attempts = 0, error = '',"
            " next_attempt_at = excluded.next_attempt_at, request_sealed = excluded.request_sealed, summary_sealed = NULL",
            (patient_key, day, coverage_key, due_at, sealed),
        )
        return True
    cursor = conn.execute(
        "INSERT OR IGNORE INTO eligibility_checks(patient_key, day, coverage_key, state, next_attempt_at, request_sealed)"
        " VALUES (?, ?, ?, 'pending', ?, ?)",
        (patient_key, day, coverage_key, due_at, sealed),
    )
    return cursor.rowcount == 1


def hurry(conn: sqlite3.Connection, patient_key: str, day: str, due_at: float) -> None:
    """A waiting check is wanted now (the patient arrived): bring its next attempt forward."""
    conn.execute(
        "UPDATE eligibility_checks SET next_attempt_at = MIN(COALESCE(next_attempt_at, ?), ?)"
        " WHERE patient_key = ? AND day = ? AND state IN ('pending', 'not_verified')",
        (due_at, due_at, patient_key, day),
    )


def due(conn: sqlite3.Connection, store: "Store", now: float, limit: int) -> list[Check]:
    rows = conn.execute(
        "SELECT * FROM eligibility_checks WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?"
        " ORDER BY next_attempt_at LIMIT ?",
        (now, limit),
    ).fetchall()
    return [_check(row, store) for row in rows]


def next_due_at(conn: sqlite3.Connection) -> float | None:
    due_at = conn.execute("SELECT MIN(next_attempt_at) FROM eligibility_checks").fetchone()[0]
    return None if due_at is None else float(due_at)


def record_answer(
    conn: sqlite3.Connection, store: "Store", check: Check, summary: EligibilitySummary, control_number: int, now: float
) -> str:
    state = DeskView.of(summary, "").state
    conn.execute(
        "UPDATE eligibility_checks SET state = ?, attempts = attempts + 1, next_attempt_at = NULL, checked_at = ?,"
        " answered_at = ?, control_number = ?, error = '', summary_sealed = ? WHERE patient_key = ? AND day = ?",
        (state, now, now, str(control_number), store.seal_json(summary.model_dump(mode="json"),
         summary_context(check.patient_key, check.day)), check.patient_key, check.day),
    )  # fmt: skip
    return state


def record_failure(
    conn: sqlite3.Connection, check: Check, error: str, control_number: int | None, retry_at: float | None, now: float
) -> None:
    conn.execute(
        "UPDATE eligibility_checks SET state = 'not_verified', attempts = attempts + 1, next_attempt_at = ?,"
        " checked_at = ?, control_number = ?, error = ? WHERE patient_key = ? AND day = ?",
        (retry_at, now, "" if control_number is None else str(control_number), error[:80], check.patient_key, check.day),
    )


def apply_view(conn: sqlite3.Connection, store: "Store", patient_key: str, day: str, view: DeskView,
               checkin_id: str | None = None) -> list[arrivals.QueueEntry]:  # fmt: skip
    """Put the desk's view on the patient's arrivals of that day (or one arrival) and raise or lower the
    `coverage_inactive` flag; returns the changed arrivals for the staff channel."""
    query = "SELECT checkin_id, flags FROM arrivals WHERE patient_key = ? AND day = ?"
    params: tuple[str, ...] = (patient_key, day)
    if checkin_id is not None:
        query, params = query + " AND checkin_id = ?", (*params, checkin_id)
    changed = []
    for row in conn.execute(query, params).fetchall():
        flags = [flag for flag in json.loads(row["flags"]) if flag != INACTIVE_FLAG]
        if view.state == "inactive":
            flags.append(INACTIVE_FLAG)
        conn.execute(
            "UPDATE arrivals SET eligibility_sealed = ?, flags = ? WHERE checkin_id = ?",
            (store.seal_json(view.model_dump(mode="json"), arrivals.eligibility_context(row["checkin_id"])), json.dumps(flags),
             row["checkin_id"]),
        )  # fmt: skip
        changed.append(arrivals.queue_entry(conn, store, row["checkin_id"]))
    return changed
