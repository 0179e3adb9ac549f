"""The store's memory of every consent document version served: what `ConsentLibrary` keeps across restarts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from typing import Iterable

from ..store import Store
from .documents import ConsentDocument


def to_json(document: ConsentDocument) -> str:
    fields = dataclasses.asdict(document)
    fields["effective"] = document.effective.isoformat()
    fields["still_valid_versions"] = list(document.still_valid_versions)
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def from_json(text: str) -> ConsentDocument:
    fields = json.loads(text)
    fields["effective"] = dt.date.fromisoformat(fields["effective"])
    fields["still_valid_versions"] = tuple(fields["still_valid_versions"])
    return ConsentDocument(**fields)


class StoreArchive:
    """Served versions in the `consent_versions` table (migration 0003)."""

    def __init__(self, store: Store):
        self.store = store

    def load(self) -> list[ConsentDocument]:
        rows = self.store.read_sync(lambda conn: conn.execute("SELECT document FROM consent_versions").fetchall())
        return [from_json(row["document"]) for row in rows]

    def save(self, documents: Iterable[ConsentDocument]) -> None:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        rows = [(d.id, d.version, to_json(d), now) for d in documents]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO consent_versions(document_id, version, document, first_served_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(document_id, version) DO UPDATE SET document = excluded.document",
                rows,
            )

        if rows:
            self.store.write_sync(work)
