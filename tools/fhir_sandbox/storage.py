"""Versioned resources and their identifiers in SQLite."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .outcomes import now_instant

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS identifiers (
    type TEXT NOT NULL, id TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identifiers_lookup ON identifiers(type, system, value);
CREATE INDEX IF NOT EXISTS identifiers_owner ON identifiers(type, id);
"""


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class ResourceStore:
    """Versioned resources in SQLite. Callers hold `lock` for anything that must be atomic."""

    def __init__(self, path: Path | str):
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()

    def read(self, resource_type: str, resource_id: str) -> dict | None:
        row = self.conn.execute(
            "SELECT body FROM resources WHERE type = ? AND id = ?", (resource_type, resource_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def all_of(self, resource_type: str) -> list[dict]:
        rows = self.conn.execute("SELECT body FROM resources WHERE type = ? ORDER BY rowid", (resource_type,))
        return [json.loads(row[0]) for row in rows]

    def ids_by_identifier(self, resource_type: str, system: str | None, value: str) -> list[str]:
        if system is None:
            rows = self.conn.execute("SELECT id FROM identifiers WHERE type = ? AND value = ?", (resource_type, value))
        else:
            # without the hint SQLite prefers identifiers_owner and scans every identifier of the type
            rows = self.conn.execute(
                "SELECT id FROM identifiers INDEXED BY identifiers_lookup WHERE type = ? AND system = ? AND value = ?",
                (resource_type, system, value),
            )
        return list(dict.fromkeys(row[0] for row in rows))

    def save(self, resource: dict, resource_id: str) -> dict:
        """Store a new version (or the first one) of a resource; returns what was stored."""
        resource_type = resource["resourceType"]
        row = self.conn.execute(
            "SELECT version FROM resources WHERE type = ? AND id = ?", (resource_type, resource_id)
        ).fetchone()
        version = 1 if row is None else row[0] + 1
        stored = {**resource, "id": resource_id}
        stored["meta"] = {**resource.get("meta", {}), "versionId": str(version), "lastUpdated": now_instant()}
        self.conn.execute(
            "INSERT INTO resources(type, id, version, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(type, id) DO UPDATE SET version = excluded.version, body = excluded.body",
            (resource_type, resource_id, version, json.dumps(stored, separators=(",", ":"))),
        )
        self.conn.execute("DELETE FROM identifiers WHERE type = ? AND id = ?", (resource_type, resource_id))
        self.conn.executemany(
            "INSERT INTO identifiers(type, id, system, value) VALUES (?, ?, ?, ?)",
            [
                (resource_type, resource_id, ident.get("system", ""), ident["value"])
                for ident in _as_list(resource.get("identifier"))
                if isinstance(ident, dict) and "value" in ident
            ],
        )
        return stored

    def identifier_counts(self, resource_type: str, system: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT value, COUNT(DISTINCT id) FROM identifiers WHERE type = ? AND system = ? GROUP BY value",
            (resource_type, system),
        )
        return dict(rows.fetchall())

    def type_counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT type, COUNT(*) FROM resources GROUP BY type").fetchall())

    def clear(self) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM resources")
            self.conn.execute("DELETE FROM identifiers")
