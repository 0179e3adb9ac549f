"""The day's figures for the front desk: check-ins by hour and by identity source, median wait, and
how many checked in at a kiosk versus at the desk. Computed from the arrivals table, no PHI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
import statistics
import zoneinfo
from dataclasses import dataclass

DESK_KIOSK_PREFIX = "desk"  # check-ins entered by staff carry a kiosk id such as "desk" or "desk-2"


@dataclass(frozen=True)
class DayStats:
    day: str
    checkins: int
    by_hour: dict[str, int]
    by_identity_source: dict[str, int]
    median_wait_min: float | None
    kiosk: int
    desk: int

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def day_stats(conn: sqlite3.Connection, day: str, timezone: str) -> DayStats:
    rows = conn.execute(
        "SELECT arrived_at, called_at, roomed_at, identity_source, kiosk_id FROM arrivals WHERE day = ?", (day,)
    ).fetchall()
    zone = zoneinfo.ZoneInfo(timezone)
    by_hour: dict[str, int] = {}
    by_source: dict[str, int] = {}
    waits, desk = [], 0
    for row in rows:
        arrived = dt.datetime.fromisoformat(row["arrived_at"])
        hour = f"{arrived.astimezone(zone).hour:02d}:00"
        by_hour[hour] = by_hour.get(hour, 0) + 1
        by_source[row["identity_source"]] = by_source.get(row["identity_source"], 0) + 1
        seen = row["called_at"] or row["roomed_at"]
        if seen:
            waits.append((dt.datetime.fromisoformat(seen) - arrived).total_seconds() / 60)
        desk += row["kiosk_id"].startswith(DESK_KIOSK_PREFIX)
    return DayStats(
        day=day,
        checkins=len(rows),
        by_hour=dict(sorted(by_hour.items())),
        by_identity_source=dict(sorted(by_source.items())),
        median_wait_min=round(statistics.median(waits), 1) if waits else None,
        kiosk=len(rows) - desk,
        desk=desk,
    )


def to_csv(stats: DayStats) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["day", "measure", "key", "value"])
    writer.writerow([stats.day, "checkins", "", stats.checkins])
    for hour, count in stats.by_hour.items():
        writer.writerow([stats.day, "checkins_by_hour", hour, count])
    for source, count in stats.by_identity_source.items():
        writer.writerow([stats.day, "checkins_by_identity_source", source, count])
    writer.writerow([stats.day, "median_wait_min", "", "" if stats.median_wait_min is None else stats.median_wait_min])
    writer.writerow([stats.day, "checkins_at", "kiosk", stats.kiosk])
    writer.writerow([stats.day, "checkins_at", "desk", stats.desk])
    return buffer.getvalue()
