"""Signed consents as FHIR R4 resources for the check-in's transaction Bundle.

Per consent, two entries:

- a `Consent` (active when accepted, rejected when declined) with the sealed PDF as `sourceAttachment`
  and `policy.uri` naming the document and version, created with `ifNoneExist` on its identifier
  (the consent id), so a replayed Bundle creates nothing twice;
- a `Provenance` targeting that Consent and carrying the patient's signature (a PNG of the strokes).
  R4's Provenance has no identifier to create it conditionally on, so it is written with PUT to an id
  derived from the consent id: a replay rewrites the same resource instead of adding one.

Every resource is validated with `fhir.resources.R4B` before it is returned.
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
import uuid
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class

from ..fhir_bundle import BundleEntry, BundleRequest, FhirResource
from ..json_types import JsonObject
from ..store import Store
from .due import policy_uri
from .records import SignedConsent, read_signed, sealed_pdf
from lobby_core.signature_image import signature_png
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY = "http://terminology.hl7.org/CodeSystem/consentcategorycodes"
LOINC = "http://loinc.org"
PATIENT_CONSENT_LOINC = "59284-0"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"
CONSENT_SIGNATURE = "1.2.840.10065.1.12.1.7"
LOINC_CODE = re.compile(r"^\d{1,7}-\d$")
PROVENANCE_NAMESPACE = uuid.UUID("5d3f0a9e-4b7c-4f51-8c2e-0a6b1e9d7f34")


def consent_identifier_system(identifier_system: str) -> str:
    return f"{identifier_system}/consent"


def provenance_id(consent_id: str) -> str:
    return str(uuid.uuid5(PROVENANCE_NAMESPACE, consent_id))


def _validated(resource: FhirResource) -> FhirResource:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def _categories(category: str) -> list[JsonObject]:
    codings = [{"system": LOINC, "code": PATIENT_CONSENT_LOINC, "display": "Patient Consent"}]
    if category != PATIENT_CONSENT_LOINC:
        system = LOINC if LOINC_CODE.match(category) else CONSENT_CATEGORY
        codings.insert(0, {"system": system, "code": category})
    return [{"coding": [coding]} for coding in codings]


def consent_resource(signed: SignedConsent, pdf: bytes, patient_ref: str, identifier_system: str) -> FhirResource:
    record, document = signed.record, signed.document
    return _validated(
        {
            "resourceType": "Consent",
            "identifier": [{"system": consent_identifier_system(identifier_system), "value": signed.consent_id}],
            "status": "active" if signed.accepted else "rejected",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": document["scope"]}]},
            "category": _categories(document["category"]),
            "patient": {"reference": patient_ref},
            "dateTime": record.signed_at.isoformat(),
            "performer": [{"reference": patient_ref}],
            "sourceAttachment": {
                "contentType": "application/pdf",
                "language": record.language,
                "data": base64.b64encode(pdf).decode("ascii"),
                "size": len(pdf),
                "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),  # R4: SHA-1, base64
                "title": f"{document['title']} ({document['id']} {document['version']}, {record.language})",
                "creation": record.signed_at.isoformat(),
            },
            "policy": [{"uri": policy_uri(document["id"], document["version"])}],
            "provision": {"type": "permit" if signed.accepted else "deny"},
        }
    )


def provenance_resource(signed: SignedConsent, consent_ref: str, patient_ref: str) -> FhirResource:
    record = signed.record
    provenance: FhirResource = {
        "resourceType": "Provenance",
        "id": provenance_id(signed.consent_id),
        "target": [{"reference": consent_ref}],
        "recorded": record.signed_at.isoformat(),
        "agent": [
            {
                "type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "author"}]},
                "who": {"reference": patient_ref},
            },
            {
                "type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "enterer"}]},
                "who": {"display": f"kiosk {record.kiosk_id} at site {signed.site_id}"},
            },
        ],
    }
    if signed.accepted and record.signature is not None:
        provenance["signature"] = [
            {
                "type": [{"system": SIGNATURE_TYPE, "code": CONSENT_SIGNATURE, "display": "Consent Signature"}],
                "when": record.signed_at.isoformat(),
                "who": {"reference": patient_ref},
                "sigFormat": "image/png",
                "data": base64.b64encode(signature_png(record.signature)).decode("ascii"),
            }
        ]
    return _validated(provenance)


def consent_entries(
    store: Store, consent_ids: list[str], patient_ref: str, identifier_system: str = "urn:lobby-checkin",
    translations_dir: Path = DEFAULT_TRANSLATIONS_DIR,
) -> list[BundleEntry]:
    """Transaction Bundle entries (Consent + Provenance per consent) ready to append to a check-in Bundle.

    `patient_ref` is the Patient as the Bundle refers to it ("Patient/123" or a "urn:uuid:..." fullUrl).
    Blocking (it may render and store a PDF): from asyncio, call it through `asyncio.to_thread`.
    """
    entries: list[BundleEntry] = []
    for consent_id in consent_ids:
        pdf = sealed_pdf(store, consent_id, translations_dir)
        signed = store.read_sync(lambda conn: read_signed(store, conn, consent_id))  # runs now, in this turn
        if pdf is None or signed is None:
            raise LookupError(f"consent {consent_id} is not in the store")
        full_url = f"urn:uuid:{consent_id}"
        system = consent_identifier_system(identifier_system)
        entries.append(
            BundleEntry(
                fullUrl=full_url,
                resource=consent_resource(signed, pdf, patient_ref, identifier_system),
                request=BundleRequest(
                    method="POST",
                    url="Consent",
                    ifNoneExist=urllib.parse.urlencode({"identifier": f"{system}|{consent_id}"}),
                ),
            )
        )
        provenance = provenance_resource(signed, full_url, patient_ref)
        entries.append(BundleEntry(resource=provenance, request=BundleRequest(method="PUT", url=f"Provenance/{provenance['id']}")))
    return entries
