"""Schema migrations from every earlier schema: a database with data in every table of the first schema,
left at each earlier version, is opened by the current code, which brings it to the newest version with
every row intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge_agent.keys import SiteKey
from edge_agent.store import Store, _statements, migrations

NOW = "2026-01-05T09:00:00+00:00"


def first_schema_database(path: Path, key: SiteKey) -> None:
    version, _name, sql = migrations()[0]
    assert version == 1
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in _statements(sql):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO meta VALUES ('last_sync_success_at', '1767600000.0')")
    conn.execute("INSERT INTO kiosks(kiosk_id, token_hash, enrolled_at) VALUES ('kiosk-1', 'ab' , ?)", (NOW,))
    conn.execute("INSERT INTO ticket_counters VALUES ('2026-01-05', 14)")
    conn.execute(
        "INSERT INTO arrivals(checkin_id, day, ticket, kiosk_id, identity_source, language, status, arrived_at,"
        " patient_key, details_sealed) VALUES ('c-1', '2026-01-05', 'A-014', 'kiosk-1', 'manual', 'en', 'waiting', ?, 'p-1', ?)",
        (NOW, key.seal(b'{"family": "Garcia"}', b"arrival:c-1")),
    )
    conn.execute(
        "INSERT INTO consents(consent_id, checkin_id, patient_key, document_id, version, language, text_sha256,"
        " decision, signed_at, kiosk_id, record_sealed) VALUES ('k-1', 'c-1', 'p-1', 'privacy-notice', '3', 'en', ?, 'accepted', ?, 'kiosk-1', ?)",
        ("0" * 64, NOW, key.seal(b"{}", b"consent:k-1")),
    )
    conn.execute(
        "INSERT INTO outbox(event_type, aggregate_id, patient_key, payload_sealed, next_attempt_at, created_at)"
        " VALUES ('checkin.v1', 'c-1', 'p-1', ?, 0, 1767600000.0)",
        (key.seal(b'{"checkin": {"checkin_id": "c-1"}}', b"outbox:c-1"),),
    )
    conn.execute("COMMIT")
    conn.close()


def upgrade_to(path: Path, version: int) -> None:
    """Apply the shipped migrations up to `version`, as that release's agent left the database."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number, _name, sql in migrations()[1:]:
        if number > version:
            break
        conn.execute("BEGIN")
        for statement in _statements(sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    conn.close()


def table_rows(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in tables}
    finally:
        conn.close()


EARLIER_VERSIONS = [number for number, _name, _sql in migrations()[:-1]]


@pytest.mark.parametrize("version", EARLIER_VERSIONS)
def test_earlier_schema_upgrades_to_latest_with_data_intact(tmp_path: Path, version: int) -> None:
    key = SiteKey.load_or_create(tmp_path / "site.key")
    path = tmp_path / "agent.db"
    first_schema_database(path, key)
    upgrade_to(path, version)
    before = table_rows(path)

    store = Store(path, key)
    try:
        latest = migrations()[-1][0]
        assert store.schema_version == latest
        assert [item.payload for item in store.outbox_due(10)] == [{"checkin": {"checkin_id": "c-1"}}]
        assert store.get_meta("last_sync_success_at") == "1767600000.0"
    finally:
        store.close()

    after = table_rows(path)
    for table, rows in before.items():
        # Later migrations may add columns (at the end, with defaults): the old columns keep their values.
        assert [row[: len(rows[0])] for row in after[table]] == rows, table
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    assert key.unseal(after["arrivals"][0][before_columns(path, "arrivals").index("details_sealed")], b"arrival:c-1")


def before_columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def test_opening_the_latest_schema_again_changes_nothing(tmp_path: Path) -> None:
    key = SiteKey.load_or_create(tmp_path / "site.key")
    first_schema_database(tmp_path / "agent.db", key)
    Store(tmp_path / "agent.db", key).close()
    before = table_rows(tmp_path / "agent.db")
    Store(tmp_path / "agent.db", key).close()
    assert table_rows(tmp_path / "agent.db") == before


def test_visits_stored_twice_before_0011_are_kept_and_marked_and_the_store_then_refuses_more(tmp_path: Path) -> None:
    """Issue #13 (6): a database from before migration 0011 may hold two active arrivals of one
    appointment (the bug). The upgrade keeps both rows as they were, names the later one `duplicate_of`
    the first, and from then on SQLite refuses a second active arrival of an appointment."""
    key = SiteKey.load_or_create(tmp_path / "site.key")
    path = tmp_path / "agent.db"
    first_schema_database(path, key)
    upgrade_to(path, 10)
    conn = sqlite3.connect(path, isolation_level=None)
    columns = "checkin_id, day, ticket, kiosk_id, appointment_id, identity_source, language, status, arrived_at, patient_key, details_sealed"
    for checkin_id, ticket, status in (("v-1", "A-020", "waiting"), ("v-2", "A-021", "called"), ("v-0", "A-019", "no_show")):
        conn.execute(f"INSERT INTO arrivals({columns}) VALUES (?, '2026-01-05', ?, 'kiosk-1', 'appt-9', 'manual', 'en', ?, ?, 'p-9', x'00')",
                     (checkin_id, ticket, status, NOW))  # fmt: skip
    conn.close()
    before = table_rows(path)["arrivals"]

    Store(path, key).close()

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        marks = dict(conn.execute("SELECT checkin_id, duplicate_of FROM arrivals WHERE appointment_id = 'appt-9'").fetchall())
        assert marks == {"v-1": None, "v-2": "v-1", "v-0": None}
        assert [row[:-1] for row in conn.execute("SELECT * FROM arrivals ORDER BY rowid")] == before  # rows intact
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(f"INSERT INTO arrivals({columns}) VALUES ('v-3', '2026-01-05', 'A-022', 'kiosk-1', 'appt-9', 'manual', 'en', 'waiting', ?, 'p-9', x'00')", (NOW,))  # fmt: skip
        assert conn.execute("SELECT COUNT(*) FROM write_probe").fetchone()[0] == 0  # 0010: the probe's table
    finally:
        conn.close()
