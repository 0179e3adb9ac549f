"""Signed consent records: checked before the check-in transaction, stored inside it, read back later.

The agent API calls `validate_records` before it opens the check-in transaction (a bad record stores
nothing) and `insert_consents` inside it. Each stored record is sealed (AES-GCM under the site key) with
everything needed to render its PDF years later: the record with its strokes, the exact text signed,
the patient's name and birth date, the site and the check-in.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from lobby_core.contract import ConsentRecord, PatientIdentity, Signature
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from ..store import Store
from .documents import ConsentLibrary, DocumentSnapshot

CONSENT_ID_NAMESPACE = uuid.UUID("1c0a7c52-8d0e-4a53-9a4e-6f1f3b0c2d11")
MAX_CLOCK_SKEW = dt.timedelta(minutes=10)


class ConsentRecordError(ValueError):
    """A signed record the agent will not store. `code`/`message`/`field` map onto the API's Problem."""

    def __init__(self, code: str, message: str, field: str, document_id: str = "", version: str = "", language: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.document_id = document_id
        self.version = version
        self.language = language


def consent_id_for(checkin_id: uuid.UUID | str, document_id: str) -> str:
    """The same check-in and document always give the same id: a replay cannot store a second copy."""
    return str(uuid.uuid5(CONSENT_ID_NAMESPACE, f"{checkin_id}/{document_id}"))


def has_ink(signature: Signature | None) -> bool:
    return signature is not None and any(stroke.points for stroke in signature.strokes)


def stays_in_area(signature: Signature, tolerance_mm: float = 2.0) -> bool:
    return all(
        -tolerance_mm <= p.x_mm <= signature.width_mm + tolerance_mm
        and -tolerance_mm <= p.y_mm <= signature.height_mm + tolerance_mm
        for stroke in signature.strokes
        for p in stroke.points
    )


def validate_records(
    records: Iterable[ConsentRecord],
    documents: ConsentLibrary,
    *,
    kiosk_id: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Raise ConsentRecordError for the first record the agent cannot accept as a legal record."""
    now = now or dt.datetime.now(dt.timezone.utc)
    seen: set[str] = set()
    for index, record in enumerate(records):
        where = f"consents[{index}]"
        name = f"{record.document_id} version {record.version} ({record.language})"

        def refuse(code: str, message: str, field: str) -> ConsentRecordError:
            return ConsentRecordError(code, message, f"{where}.{field}", record.document_id, record.version, record.language)

        if record.document_id in seen:
            raise refuse("consent_duplicate", f"{record.document_id} is signed twice in one check-in", "document_id")
        seen.add(record.document_id)
        document = documents.served(record.document_id, record.version)
        if document is None:
            current = documents.get(record.document_id)
            if current is None:
                raise refuse("consent_unknown_document", f"no consent document {record.document_id!r}", "document_id")
            raise refuse(
                "consent_unknown_version",
                f"{record.document_id} version {record.version} is not served here (current version {current.version})",
                "version",
            )
        if record.language not in document.text:
            raise refuse(
                "consent_unknown_language",
                f"{record.document_id} version {record.version} has no {record.language!r} text"
                f" (available: {', '.join(document.languages)})",
                "language",
            )
        if record.text_sha256 != document.sha256[record.language]:
            raise refuse(
                "consent_text_mismatch",
                f"{name}: the text the kiosk showed (SHA-256 {record.text_sha256[:12]}…) is not the text this agent"
                f" serves (SHA-256 {document.sha256[record.language][:12]}…); the form must be shown again",
                "text_sha256",
            )
        if record.decision == "accepted" and not has_ink(record.signature):
            raise refuse("consent_signature_missing", f"{name}: accepted without a signature", "signature")
        if record.signature is not None and not stays_in_area(record.signature):
            raise refuse("consent_signature_outside_area", f"{name}: the signature leaves its signing area", "signature")
        if record.decision == "declined" and not document.may_decline:
            raise refuse("consent_decline_not_allowed", f"{name}: this form may not be declined", "decision")
        if record.signed_at.tzinfo is None:
            raise refuse("consent_time_without_zone", f"{name}: signed_at must carry a time zone offset", "signed_at")
        if record.signed_at > now + MAX_CLOCK_SKEW:
            raise refuse("consent_time_in_future", f"{name}: signed_at lies in the future", "signed_at")
        if kiosk_id is not None and record.kiosk_id != kiosk_id:
            raise refuse("consent_wrong_kiosk", f"{name}: signed on kiosk {record.kiosk_id}, submitted by {kiosk_id}", "kiosk_id")


def _context(consent_id: str) -> str:
    return f"consent:{consent_id}"


def insert_consents(
    conn: sqlite3.Connection,
    store: Store,
    *,
    checkin_id: uuid.UUID | str,
    patient_key: str,
    patient: PatientIdentity,
    records: Iterable[ConsentRecord],
    documents: ConsentLibrary,
    site_id: str,
    site_name: str,
) -> list[str]:
    """Insert the (already validated) records inside the caller's transaction; returns the consent ids."""
    consent_ids = []
    for record in records:
        document = documents.known(record.document_id, record.version)
        if document is None:
            raise ConsentRecordError(
                "consent_unknown_version", f"{record.document_id} version {record.version} is no longer known", "consents"
            )
        consent_id = consent_id_for(checkin_id, record.document_id)
        sealed = {
            "record": record.model_dump(mode="json"),
            "document": document.snapshot(record.language),
            "patient": patient.model_dump(mode="json"),
            "checkin_id": str(checkin_id),
            "site": {"id": site_id, "name": site_name},
        }
        conn.execute(
            "INSERT INTO consents(consent_id, checkin_id, patient_key, document_id, version, language, text_sha256,"
            " decision, signed_at, kiosk_id, record_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                consent_id,
                str(checkin_id),
                patient_key,
                record.document_id,
                record.version,
                record.language,
                record.text_sha256,
                record.decision,
                record.signed_at.isoformat(),
                record.kiosk_id,
                store.seal_json(sealed, _context(consent_id)),
            ),
        )
        consent_ids.append(consent_id)
    return consent_ids


@dataclass(frozen=True)
class SignedConsent:
    """A stored record, unsealed: what the PDF and the FHIR resources are made from."""

    consent_id: str
    checkin_id: str
    record: ConsentRecord
    document: DocumentSnapshot
    patient: PatientIdentity
    site_id: str
    site_name: str

    @property
    def accepted(self) -> bool:
        return self.record.decision == "accepted"


class ConsentPurged(LookupError):
    """The consent's details were purged after delivery (see retention.py); the central system has them."""


PURGED = b""  # what `record_sealed` holds once purged


def read_signed(store: Store, conn: sqlite3.Connection, consent_id: str) -> SignedConsent | None:
    row = conn.execute("SELECT record_sealed FROM consents WHERE consent_id = ?", (consent_id,)).fetchone()
    if row is None:
        return None
    if row["record_sealed"] == PURGED:
        raise ConsentPurged(consent_id)
    sealed = store.unseal_json(row["record_sealed"], _context(consent_id))
    return SignedConsent(
        consent_id=consent_id,
        checkin_id=sealed["checkin_id"],
        record=ConsentRecord.model_validate(sealed["record"]),
        document=sealed["document"],
        patient=PatientIdentity.model_validate(sealed["patient"]),
        site_id=sealed["site"]["id"],
        site_name=sealed["site"]["name"],
    )


def sealed_pdf(store: Store, consent_id: str, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> bytes | None:
    """The consent's sealed PDF: rendered on first need (in the site's `translations_dir` wording), stored,
    and served from the store after that."""
    from .pdf import render_sealed_pdf  # reportlab is loaded only when a PDF is wanted

    row = store.read_sync(
        lambda c: c.execute("SELECT pdf_sealed, record_sealed FROM consents WHERE consent_id = ?", (consent_id,)).fetchone()
    )
    if row is None:
        return None
    if row["record_sealed"] == PURGED:
        raise ConsentPurged(consent_id)
    if row["pdf_sealed"] is not None:
        return store.key.unseal(row["pdf_sealed"], _pdf_context(consent_id).encode())
    signed = store.read_sync(lambda c: read_signed(store, c, consent_id))
    if signed is None:
        return None
    pdf = render_sealed_pdf(signed, store.key, translations_dir)
    ciphertext = store.key.seal(pdf, _pdf_context(consent_id).encode())
    # Rendering is deterministic, so a concurrent renderer produced the same bytes: first one wins.
    store.write_sync(
        lambda c: c.execute(
            "UPDATE consents SET pdf_sealed = ? WHERE consent_id = ? AND pdf_sealed IS NULL", (ciphertext, consent_id)
        )
    )
    return pdf


def _pdf_context(consent_id: str) -> str:
    return f"consent-pdf:{consent_id}"
