"""When "Is this still right?" (the patient's details on file) is due at the kiosk.

Like a consent form, the review is due on a policy, not at every visit: again `every_days` after the
patient last answered "Yes, that's right" (`[kiosk] review_details_every_days`), always when they never
did, when what is on file has changed since (the desk or the EHR updated the address, the phone or the
insurance), and at every visit when `every_days` is 0. "Something changed" records nothing: the desk
updates the file, and the patient is asked again next time.

What was confirmed is kept as a keyed digest of the hints the patient saw, never the hints themselves.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from lobby_core.contract import OnFileHints

from .keys import SiteKey


def hints_digest(key: SiteKey, hints: OnFileHints) -> str:
    """Stands for the details on file as the patient saw them; changes when any of them does."""
    return key.pseudonym("details-on-file", hints.street_ending, hints.phone_ending, hints.member_id_ending, hints.payer)


def record_confirmed(conn: sqlite3.Connection, patient_key: str, day: dt.date, digest: str) -> None:
    """Inside a write: the patient confirmed the details `digest` stands for on `day`."""
    conn.execute(
        "INSERT INTO details_confirmed(patient_key, confirmed_on, hints_digest) VALUES (?, ?, ?) "
        "ON CONFLICT(patient_key) DO UPDATE SET confirmed_on = excluded.confirmed_on, hints_digest = excluded.hints_digest "
        "WHERE excluded.confirmed_on >= details_confirmed.confirmed_on",
        (patient_key, day.isoformat(), digest),
    )


def review_due(conn: sqlite3.Connection, patient_key: str, today: dt.date, every_days: int, digest: str) -> bool:
    """The patient should see their details on file today (`digest`: of what the file holds now)."""
    if every_days == 0:
        return True
    row = conn.execute("SELECT confirmed_on, hints_digest FROM details_confirmed WHERE patient_key = ?",
                       (patient_key,)).fetchone()  # fmt: skip
    if row is None or row[1] != digest:
        return True
    return (today - dt.date.fromisoformat(row[0])).days > every_days
