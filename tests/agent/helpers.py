"""Bodies and database probes shared by the agent tests."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from .launcher import today_demo_appointment_id

GARCIA = {"family": "García López", "given": "María José", "birth_date": "1956-03-14"}  # demo appointment 1


def checkin_body(kiosk_id: str = "kiosk-1", appointment_index: int | None = 1, **overrides) -> dict:
    body = {
        "checkin_id": str(uuid.uuid4()),
        "kiosk_id": kiosk_id,
        "appointment_id": today_demo_appointment_id(appointment_index) if appointment_index else None,
        "identity_source": "manual",
        "patient": dict(GARCIA),
        "coverage": None,
        "consents": [],
        "answers": [],
    }
    body.update(overrides)
    return body


def count_rows(db: Path, table: str, where: str = "1", params: tuple = ()) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params).fetchone()[0]
    finally:
        conn.close()
