"""Consents: what the hot-reload check adds to a lookup, and what a sealed PDF costs to make and check.

    .venv/bin/python -m bench.consents

Each figure is printed beside its baseline, measured in the same run on the same machine:
- forms_due with the folder re-checked on every call (the shipped behaviour) vs. the same rules on
  documents already in memory (no file-system check);
- render + seal of one PDF vs. render alone; verify vs. a bare SHA-256 of the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

from edge_agent.config import DEFAULT_CONSENTS_DIR
from edge_agent.consents.documents import ConsentLibrary
from edge_agent.consents.due import decisions_on_file, due_documents, forms_due
from edge_agent.consents.pdf import render_pdf, render_sealed_pdf
from edge_agent.consents.records import insert_consents, read_signed
from edge_agent.consents.verify import verify_pdf
from lobby_core.contract import ConsentRecord, PatientIdentity, PenPoint, Signature, Stroke
from edge_agent.keys import SiteKey
from edge_agent.store import Store

BIRTH = dt.date(1961, 4, 9)
TODAY = dt.date(2026, 11, 23)


def per_call_us(work: Callable[[], object], seconds: float = 1.5) -> tuple[float, float]:
    """(median, p99) microseconds per call over `seconds` of repeated calls."""
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    key = SiteKey(secrets.token_bytes(32))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "agent.db", key)
        library = ConsentLibrary(DEFAULT_CONSENTS_DIR)
        document = library.get("consent-to-treat")
        strokes = [Stroke(points=[PenPoint(x_mm=5 + i * 0.5, y_mm=20 + (i % 17), t_ms=i * 8) for i in range(400)])]
        record = ConsentRecord(
            document_id=document.id, version=document.version, language="es", text_sha256=document.sha256["es"],
            decision="accepted", signature=Signature(width_mm=140, height_mm=45, strokes=strokes, device="pad"),
            signed_at=dt.datetime.now(dt.timezone.utc), kiosk_id="kiosk-1",
        )  # fmt: skip
        checkin_id = str(uuid.uuid4())

        def store_one(conn):
            conn.execute(
                "INSERT INTO arrivals(checkin_id, day, ticket, kiosk_id, identity_source, language, status, arrived_at,"
                " patient_key, details_sealed) VALUES (?, '2026-11-23', 'A-001', 'kiosk-1', 'manual', 'es', 'waiting',"
                " '2026-11-23T09:00:00+00:00', 'p1', x'00')",
                (checkin_id,),
            )
            return insert_consents(
                conn, store, checkin_id=checkin_id, patient_key="p1", records=[record], documents=library,
                patient=PatientIdentity(family="Núñez", given="José", birth_date=BIRTH), site_id="s", site_name="S",
            )  # fmt: skip

        [consent_id] = store.write_sync(store_one)
        history = store.read_sync(lambda c: decisions_on_file(c, "p1"))
        in_memory = list(library.current().values())

        rows = [
            ("forms_due, folder re-checked per call", per_call_us(
                lambda: forms_due(store, library, "p1", new_patient=False, birth_date=BIRTH, today=TODAY))),
            ("  baseline: same rules, documents in memory, no store read", per_call_us(
                lambda: due_documents(in_memory, history, new_patient=False, birth_date=BIRTH, today=TODAY))),
        ]  # fmt: skip
        signed = store.read_sync(lambda c: read_signed(store, c, consent_id))
        render_pdf(signed)  # fonts registered once per process
        sealed = render_sealed_pdf(signed, key)
        rows += [
            ("render + seal one PDF (400-point signature)", per_call_us(lambda: render_sealed_pdf(signed, key), 3)),
            ("  baseline: render alone", per_call_us(lambda: render_pdf(signed), 3)),
            ("verify a sealed PDF (HMAC + read metadata)", per_call_us(lambda: verify_pdf(sealed, key))),
            ("  baseline: SHA-256 of the same bytes", per_call_us(lambda: hashlib.sha256(sealed).digest())),
        ]
        store.close()
    print(f"{'measure':<62} {'median':>12} {'p99':>12}")
    for name, (median, p99) in rows:
        print(f"{name:<62} {median:>10.0f}µs {p99:>10.0f}µs")
    print(f"sealed PDF size: {len(sealed):,} bytes")


if __name__ == "__main__":
    main()
