"""Purging delivered check-ins' PHI after the retention period, on a real store."""

from __future__ import annotations

import secrets
import time

from edge_agent import arrivals, insurance_cards, retention
from lobby_core.contract import InsuranceCardScan
from tests.card_jpegs import b64, card_jpeg
from edge_agent.keys import SiteKey
from edge_agent.store import Store

DAY = "2026-05-04"


def checked_in(store: Store, checkin_id: str) -> None:
    def work(conn) -> None:
        arrivals.add_arrival(conn, arrivals.NewArrival(
            checkin_id=checkin_id, day=DAY, kiosk_id="k", appointment_id=None, appointment_start=None, clinician="",
            identity_source="manual", language="en", flags=[], arrived_at=arrivals.now_iso(), patient_key="pk",
            details_sealed=store.seal_json({"family": "Doe"}, arrivals.details_context(checkin_id)),
        ))  # fmt: skip
        store.enqueue(conn, "checkin.v1", checkin_id, "pk", {"checkin": {"patient": {"family": "Doe"}}})
        scan = InsuranceCardScan(front_jpeg=b64(card_jpeg("front")), back_jpeg=b64(card_jpeg("back")),
                                 fields={"member_id": {"value": "RT1234567"}})  # fmt: skip
        insurance_cards.insert_card(conn, store, checkin_id, insurance_cards.check_scan(scan))
        conn.execute(
            "INSERT INTO idempotency(key, kiosk_id, request_hash, response, created_at) VALUES (?, 'k', 'h', '{}', ?)",
            (checkin_id, "2026-05-04T09:00:00+00:00"),
        )
        conn.execute(
            "INSERT INTO appointments VALUES (?, ?, '', '', '', 'pk', x'00', '')", (f"appt-{checkin_id}", DAY)
        )

    store.write_sync(work)


def test_purge_empties_delivered_details_and_keeps_pending_ones(tmp_path) -> None:
    store = Store(tmp_path / "agent.db", SiteKey(secrets.token_bytes(32)))
    try:
        checked_in(store, "delivered")
        checked_in(store, "pending")
        delivered_id = store.read_sync(lambda c: c.execute("SELECT id FROM outbox WHERE aggregate_id = 'delivered'").fetchone()[0])
        store.mark_delivered([delivered_id])
        later = time.time() + 10
        counts = store.write_sync(lambda c: retention.purge(c, later, "2026-05-05"))
        assert counts == {"arrivals": 1, "outbox": 1, "insurance_cards": 1, "idempotency": 2, "appointments": 2}
        assert insurance_cards.load_card(store, "delivered") is None  # images and fields emptied
        assert tuple(store.read_sync(lambda c: c.execute(
            "SELECT length(front_sealed), back_sealed, length(fields_sealed) FROM insurance_cards WHERE checkin_id = 'delivered'"
        ).fetchone())) == (0, None, 0)  # fmt: skip
        pending_card = insurance_cards.load_card(store, "pending")
        assert pending_card is not None and pending_card.value("member_id") == "RT1234567"  # not delivered yet
        assert store.read_sync(lambda c: arrivals.queue_entry(c, store, "delivered")).patient == {}
        assert store.read_sync(lambda c: arrivals.queue_entry(c, store, "pending")).patient == {"family": "Doe"}
        assert [item.aggregate_id for item in store.outbox_due(10)] == ["pending"]  # still deliverable
        assert store.write_sync(lambda c: retention.purge(c, later, "2026-05-05")) == dict.fromkeys(counts, 0)
    finally:
        store.close()
