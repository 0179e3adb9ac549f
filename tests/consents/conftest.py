"""Fixtures for the consents area: a private copy of the shipped documents, a real store, signatures."""

from __future__ import annotations

import datetime as dt
import math
import secrets
import shutil
import uuid
from pathlib import Path

import pytest

from edge_agent.config import DEFAULT_CONSENTS_DIR
from edge_agent.consents.documents import ConsentLibrary
from edge_agent.consents.records import insert_consents
from lobby_core.contract import ConsentRecord, PatientIdentity, PenPoint, Signature, Stroke
from edge_agent.keys import SiteKey
from edge_agent.store import Store

PATIENT = PatientIdentity(family="Núñez Peña", given="José Ángel", birth_date=dt.date(1961, 4, 9))
KIOSK = "kiosk-2"


@pytest.fixture
def consents_dir(tmp_path: Path) -> Path:
    target = tmp_path / "consents"
    shutil.copytree(DEFAULT_CONSENTS_DIR, target)
    return target


@pytest.fixture
def library(consents_dir: Path) -> ConsentLibrary:
    return ConsentLibrary(consents_dir)


@pytest.fixture
def site_key() -> SiteKey:
    return SiteKey(secrets.token_bytes(32))


@pytest.fixture
def store(tmp_path: Path, site_key: SiteKey):
    store = Store(tmp_path / "agent.sqlite", site_key)
    yield store
    store.close()


def signature() -> Signature:
    """A wavy line and a dot, as a pad would report them (millimetres from the top-left)."""
    wave = [PenPoint(x_mm=8 + i * 0.9, y_mm=22 + 9 * math.sin(i / 5), t_ms=i * 8, pressure=0.6) for i in range(110)]
    dot = [PenPoint(x_mm=70, y_mm=8, t_ms=1200)]
    return Signature(width_mm=140, height_mm=45, strokes=[Stroke(points=wave), Stroke(points=dot)], device="pad")


def record_for(
    library: ConsentLibrary,
    document_id: str,
    language: str = "en",
    decision: str = "accepted",
    signed_at: dt.datetime | None = None,
    **changes,
) -> ConsentRecord:
    document = library.get(document_id)
    fields = dict(
        document_id=document_id,
        version=document.version,
        language=language,
        text_sha256=document.sha256[language],
        decision=decision,
        signature=signature() if decision == "accepted" else None,
        signed_at=signed_at or dt.datetime.now(dt.timezone.utc),
        kiosk_id=KIOSK,
    )
    return ConsentRecord(**{**fields, **changes})


def arrival_row(conn, checkin_id: str, patient_key: str) -> None:
    """The `arrivals` row a consent refers to (the agent API writes it in the same transaction)."""
    conn.execute(
        "INSERT INTO arrivals(checkin_id, day, ticket, kiosk_id, identity_source, language, status, arrived_at,"
        " patient_key, details_sealed) VALUES (?, '2026-01-01', ?, ?, 'manual', 'en', 'waiting', ?, ?, x'00')",
        (checkin_id, f"A-{uuid.UUID(checkin_id).int % 1000:03d}", KIOSK, dt.datetime.now(dt.timezone.utc).isoformat(), patient_key),
    )


def store_consents(store: Store, library: ConsentLibrary, records: list[ConsentRecord], patient_key: str = "patient-1",
                   patient: PatientIdentity = PATIENT) -> list[str]:
    checkin_id = str(uuid.uuid4())

    def work(conn):
        arrival_row(conn, checkin_id, patient_key)
        return insert_consents(
            conn, store, checkin_id=checkin_id, patient_key=patient_key, patient=patient, records=records,
            documents=library, site_id="riverside", site_name="Clínica Riverside",
        )

    return store.write_sync(work)
