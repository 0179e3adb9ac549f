"""When "Is this still right?" (the patient's details on file) is due at the kiosk.

Like a consent form, the review is due on a policy, not at every visit: again `every_days` after the
patient last answered "Yes, that's right" (`[kiosk] review_details_every_days`), always when they never
did, and at every visit when `every_days` is 0. "Something changed" records nothing: the desk updates
the file, and the patient is asked again next time.
"""

from __future__ import annotations

import datetime as dt
import sqlite3


def record_confirmed(conn: sqlite3.Connection, patient_key: str, day: dt.date) -> None:
    """Inside a write: the patient confirmed their details on `day` (a later confirmation wins)."""
    conn.execute(
        "INSERT INTO details_confirmed(patient_key, confirmed_on) VALUES (?, ?) "
        "ON CONFLICT(patient_key) DO UPDATE SET confirmed_on = max(confirmed_on, excluded.confirmed_on)",
        (patient_key, day.isoformat()),
    )


def last_confirmed(conn: sqlite3.Connection, patient_key: str) -> dt.date | None:
    row = conn.execute("SELECT confirmed_on FROM details_confirmed WHERE patient_key = ?", (patient_key,)).fetchone()
    return dt.date.fromisoformat(row[0]) if row is not None else None


def review_due(conn: sqlite3.Connection, patient_key: str, today: dt.date, every_days: int) -> bool:
    """The patient should see their details on file today."""
    if every_days == 0:
        return True
    confirmed = last_confirmed(conn, patient_key)
    return confirmed is None or (today - confirmed).days > every_days
