"""Kiosks and their devices as the front desk sees them: last heartbeat, each device's state and
reason, an open help request, and offline when a kiosk has been silent for more than OFFLINE_AFTER_S."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import TypedDict

OFFLINE_AFTER_S = 60.0
HELP_META_PREFIX = "help:"  # meta key per kiosk with an open help request (set by Agent.raise_help)


class DeviceReport(TypedDict):
    """One device as the kiosk's last heartbeat reported it (lobby_core.contract.DeviceHealth as JSON)."""

    name: str
    kind: str
    state: str
    reason: str


@dataclass(frozen=True)
class KioskStatus:
    kiosk_id: str
    online: bool
    last_heartbeat_at: str | None
    silent_s: float | None
    app_version: str
    screen: str
    spool_depth: int
    devices: list[DeviceReport]
    help_requested_at: str | None

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            return dt.datetime.fromtimestamp(float(value), dt.UTC)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def kiosk_statuses(conn: sqlite3.Connection, now: dt.datetime | None = None) -> list[KioskStatus]:
    now = now or dt.datetime.now(dt.UTC)
    statuses = []
    help_requests = {
        key.removeprefix(HELP_META_PREFIX): value
        for key, value in conn.execute("SELECT key, value FROM meta WHERE key LIKE ?", (HELP_META_PREFIX + "%",))
    }
    for row in conn.execute(
        "SELECT kiosk_id, last_seen_at, heartbeat FROM kiosks WHERE revoked_at IS NULL ORDER BY kiosk_id"
    ):
        seen = _parse_time(row["last_seen_at"])
        silent = None if seen is None else max(0.0, (now - seen).total_seconds())
        beat = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
        statuses.append(
            KioskStatus(
                kiosk_id=row["kiosk_id"],
                online=silent is not None and silent <= OFFLINE_AFTER_S,
                last_heartbeat_at=None if seen is None else seen.isoformat(timespec="seconds"),
                silent_s=None if silent is None else round(silent, 1),
                app_version=beat.get("app_version", ""),
                screen=beat.get("screen", ""),
                spool_depth=beat.get("spool_depth", 0),
                devices=beat.get("devices", []),
                help_requested_at=help_requests.get(row["kiosk_id"]),
            )
        )
    return statuses


def clear_help(conn: sqlite3.Connection, kiosk_id: str) -> bool:
    """Close a kiosk's open help request (inside a write). False if there was none."""
    return conn.execute("DELETE FROM meta WHERE key = ?", (HELP_META_PREFIX + kiosk_id,)).rowcount == 1
