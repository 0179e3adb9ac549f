"""The store: group commit answers only after a durable commit, one failure spoils nobody else's work."""

from __future__ import annotations

import asyncio

import pytest

from edge_agent.keys import SiteKey
from edge_agent.store import Store, migrations


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "agent.db", SiteKey.load_or_create(tmp_path / "keys" / "site.key"))
    yield store
    store.close()


def test_migrates_to_the_newest_schema(store):
    assert store.schema_version == max(version for version, _, _ in migrations())
    tables = store.read_sync(lambda c: {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")})
    assert {"arrivals", "outbox", "consents", "idempotency", "kiosks"} <= tables


def test_concurrent_writers_share_commits_and_a_failure_is_isolated(store):
    def insert(i):
        def work(conn):
            if i == 13:
                conn.execute("INSERT INTO meta(key, value) VALUES ('poison', 'x')")
                raise ValueError("bad request 13")
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (f"k{i}", str(i)))
            return i

        return work

    async def main():
        return await asyncio.gather(*(store.write(insert(i)) for i in range(200)), return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[13], ValueError)
    assert [r for i, r in enumerate(results) if i != 13] == [i for i in range(200) if i != 13]
    keys = store.read_sync(lambda c: {r[0] for r in c.execute("SELECT key FROM meta")})
    assert "poison" not in keys and len(keys) == 199


def test_phi_is_sealed_at_rest(store, tmp_path):
    store.write_sync(lambda conn: store.enqueue(conn, "checkin.v1", "c1", "p1", {"family": "Zyxwvutsky"}))
    store.close()
    for path in tmp_path.glob("agent.db*"):
        assert b"Zyxwvutsky" not in path.read_bytes(), path.name


def test_outbox_keeps_order_per_patient_and_dead_letters_do_not_block(store):
    for i, patient in enumerate(["p1", "p1", "p2", "p1"]):
        store.write_sync(lambda conn, i=i, patient=patient: store.enqueue(conn, "checkin.v1", f"c{i}", patient, {"i": i}))
    due = store.outbox_due(10)
    assert [item.aggregate_id for item in due] == ["c0", "c2"]
    store.mark_retry(due[0].id, next_attempt_at=1e12, error="503")
    assert [item.aggregate_id for item in store.outbox_due(10)] == ["c2"]
    store.mark_dead(due[0].id, "400 invalid", '{"resourceType": "OperationOutcome"}')
    assert [item.aggregate_id for item in store.outbox_due(10)] == ["c1", "c2"]
    stats = store.outbox_stats()
    assert (stats.pending, stats.dead) == (3, 1)
    assert store.requeue(due[0].id) and not store.requeue(due[0].id)
    assert store.outbox_stats().dead == 0


def test_a_tampered_ciphertext_is_refused(store):
    sealed = store.seal_json({"a": 1}, "ctx")
    with pytest.raises(Exception):
        store.unseal_json(sealed[:-1] + bytes([sealed[-1] ^ 1]), "ctx")
    with pytest.raises(Exception):
        store.unseal_json(sealed, "other-context")
