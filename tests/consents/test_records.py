"""Signed records: what the agent refuses (clearly, naming the form) and what it stores, sealed."""

from __future__ import annotations

import datetime as dt

import pytest

from edge_agent.consents.records import ConsentRecordError, consent_id_for, read_signed, validate_records
from lobby_core.contract import PenPoint, Signature, Stroke

from .conftest import KIOSK, PATIENT, record_for, store_consents


def refusal(records, library, **kwargs) -> ConsentRecordError:
    with pytest.raises(ConsentRecordError) as caught:
        validate_records(records, library, **kwargs)
    return caught.value


def test_a_hash_that_is_not_the_served_text_is_refused_naming_document_version_and_language(library):
    good = record_for(library, "consent-to-treat", language="es")
    bad = record_for(library, "consent-to-treat", language="es", text_sha256="0" * 64)
    error = refusal([record_for(library, "privacy-notice"), bad], library)
    assert error.code == "consent_text_mismatch" and error.field == "consents[1].text_sha256"
    assert "consent-to-treat version 2025.1 (es)" in error.message
    # the English hash on the Spanish form is a mismatch too: the hash binds the language
    english_hash = library.get("consent-to-treat").sha256["en"]
    assert refusal([good.model_copy(update={"text_sha256": english_hash})], library).code == "consent_text_mismatch"
    validate_records([good], library)  # the right one passes


@pytest.mark.parametrize(
    "change, code, field",
    [
        ({"signature": None}, "consent_signature_missing", "signature"),
        ({"signature": Signature(width_mm=100, height_mm=40, strokes=[], device="touch")}, "consent_signature_missing", "signature"),
        ({"signature": Signature(width_mm=100, height_mm=40, strokes=[Stroke(points=[PenPoint(x_mm=150, y_mm=5, t_ms=0)])],
                                 device="pad")}, "consent_signature_outside_area", "signature"),  # fmt: skip
        ({"decision": "declined", "signature": None}, "consent_decline_not_allowed", "decision"),
        ({"version": "1999.1"}, "consent_unknown_version", "version"),
        ({"document_id": "no-such-form"}, "consent_unknown_document", "document_id"),
        ({"language": "it"}, "consent_unknown_language", "language"),
        ({"signed_at": dt.datetime(2026, 1, 1, 9, 0)}, "consent_time_without_zone", "signed_at"),
        ({"signed_at": dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)}, "consent_time_in_future", "signed_at"),
    ],
)
def test_records_the_agent_cannot_accept(library, change, code, field):
    record = record_for(library, "consent-to-treat").model_copy(update=change)
    error = refusal([record], library)
    assert (error.code, error.field) == (code, f"consents[0].{field}")
    assert error.message


def test_a_declinable_form_may_be_declined_without_signature_but_not_signed_twice(library):
    declined = record_for(library, "telehealth", decision="declined")
    validate_records([declined], library, kiosk_id=KIOSK)
    assert refusal([declined, declined], library).code == "consent_duplicate"
    assert refusal([declined], library, kiosk_id="kiosk-9").code == "consent_wrong_kiosk"


def test_stored_records_are_sealed_with_everything_the_pdf_needs(store, library):
    record = record_for(library, "financial-responsibility", language="es")
    [consent_id] = store_consents(store, library, [record])
    row = store.read_sync(lambda c: c.execute("SELECT * FROM consents WHERE consent_id = ?", (consent_id,)).fetchone())
    assert (row["document_id"], row["version"], row["language"], row["decision"]) == (
        "financial-responsibility", "2025.2", "es", "accepted",
    )
    assert row["text_sha256"] == record.text_sha256 and row["pdf_sealed"] is None
    assert "Peña".encode() not in row["record_sealed"] and b"1961-04-09" not in row["record_sealed"]  # sealed
    signed = store.read_sync(lambda c: read_signed(store, c, consent_id))
    assert signed.record == record and signed.patient == PATIENT
    assert signed.document["text"] == library.get("financial-responsibility").text["es"]
    assert consent_id == consent_id_for(signed.checkin_id, "financial-responsibility")


def test_storing_does_not_reload_documents_inside_the_transaction(store, consents_dir):
    """A version published between validation and the check-in transaction must not stall the writer."""
    import uuid

    from edge_agent.consents.archive import StoreArchive
    from edge_agent.consents.documents import ConsentLibrary
    from edge_agent.consents.records import insert_consents

    from .conftest import arrival_row
    from .test_documents import _bump

    library = ConsentLibrary(consents_dir, archive=StoreArchive(store))
    record = record_for(library, "consent-to-treat")
    validate_records([record], library)
    _bump(consents_dir, "consent-to-treat", "2026.1", "\nNew clause.\n")
    checkin_id = str(uuid.uuid4())

    def transaction(conn):
        arrival_row(conn, checkin_id, "patient-1")
        return insert_consents(conn, store, checkin_id=checkin_id, patient_key="patient-1", patient=PATIENT,
                               records=[record], documents=library, site_id="s", site_name="S")  # fmt: skip

    assert store.submit(transaction).result(timeout=20) == [consent_id_for(checkin_id, "consent-to-treat")]
    assert library.get("consent-to-treat").version == "2026.1"  # picked up afterwards, outside the transaction


def test_patient_details_are_purged_after_delivery_and_retention_but_decisions_stay(store, library):
    import time

    from edge_agent.consents.due import decisions_on_file
    from edge_agent.consents.records import ConsentPurged, sealed_pdf
    from edge_agent.consents.retention import purge_expired

    delivered, pending = (store_consents(store, library, [record_for(library, "privacy-notice")]) for _ in range(2))
    for consent_ids in (delivered, pending):
        checkin_id = store.read_sync(lambda c, i=consent_ids[0]: c.execute(
            "SELECT checkin_id FROM consents WHERE consent_id = ?", (i,)).fetchone()[0])  # fmt: skip
        store.write_sync(lambda c, cid=checkin_id: store.enqueue(c, "checkin.v1", cid, "patient-1", {}))
    delivered_checkin_outbox = store.outbox_due(10)[0]
    store.mark_delivered([delivered_checkin_outbox.id])
    sealed_pdf(store, delivered[0])  # rendered and stored before the purge

    assert purge_expired(store, retention_days=30) == 0  # delivered just now: retention not over
    assert purge_expired(store, retention_days=30, now=time.time() + 31 * 86400) == 1  # only the delivered one
    row = store.read_sync(lambda c: c.execute("SELECT * FROM consents WHERE consent_id = ?", (delivered[0],)).fetchone())
    assert row["record_sealed"] == b"" and row["pdf_sealed"] is None
    with pytest.raises(ConsentPurged):
        sealed_pdf(store, delivered[0])
    assert sealed_pdf(store, pending[0]).startswith(b"%PDF")  # not delivered yet: kept whatever its age
    decisions = store.read_sync(lambda c: decisions_on_file(c, "patient-1"))
    assert len(decisions) == 2  # the due-rules still know both decisions
