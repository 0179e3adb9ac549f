"""FHIR R4 Consent + Provenance: valid, carrying the sealed PDF, and created once at a real FHIR server."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.provenance import Provenance

from edge_agent.consents.due import decisions_from_fhir, policy_uri
from edge_agent.consents.fhir import consent_entries, consent_identifier_system
from edge_agent.consents.verify import verify_pdf

from .conftest import record_for, store_consents

SYSTEM = "urn:consents-test"
PATIENT_REF = "Patient/p-100"



@pytest.fixture
def signed_ids(store, library) -> list[str]:
    return store_consents(store, library, [
        record_for(library, "consent-to-treat", "es"),
        record_for(library, "telehealth", "en", decision="declined"),
    ])  # fmt: skip


def test_consent_and_provenance_validate_and_carry_the_sealed_pdf(store, library, signed_ids, site_key):
    entries = consent_entries(store, signed_ids, PATIENT_REF, SYSTEM)
    assert [e["resource"]["resourceType"] for e in entries] == ["Consent", "Provenance", "Consent", "Provenance"]
    accepted, accepted_provenance = Consent.model_validate(entries[0]["resource"]), Provenance.model_validate(entries[1]["resource"])
    declined, declined_provenance = Consent.model_validate(entries[2]["resource"]), Provenance.model_validate(entries[3]["resource"])

    assert (accepted.status, declined.status) == ("active", "rejected")
    assert accepted.scope.coding[0].code == "treatment" and accepted.patient.reference == PATIENT_REF
    assert accepted.policy[0].uri == policy_uri("consent-to-treat", library.get("consent-to-treat").version)
    assert {c.coding[0].code for c in accepted.category} == {"59284-0"}
    attachment = entries[0]["resource"]["sourceAttachment"]  # the wire form: base64 strings
    pdf = base64.b64decode(attachment["data"], validate=True)
    assert attachment["contentType"] == "application/pdf" and attachment["language"] == "es"
    assert base64.b64decode(attachment["hash"], validate=True) == hashlib.sha1(pdf).digest()
    assert verify_pdf(pdf, site_key).intact
    assert entries[0]["request"] == {
        "method": "POST", "url": "Consent",
        "ifNoneExist": "identifier=" + urllib.parse.quote(f"{consent_identifier_system(SYSTEM)}|{signed_ids[0]}", safe=""),
    }  # fmt: skip

    assert accepted_provenance.target[0].reference == entries[0]["fullUrl"]
    signature = accepted_provenance.signature[0]
    assert signature.type[0].code == "1.2.840.10065.1.12.1.7" and signature.who.reference == PATIENT_REF
    png = base64.b64decode(entries[1]["resource"]["signature"][0]["data"], validate=True)
    assert signature.sigFormat == "image/png" and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert not declined_provenance.signature  # a refusal is recorded, but there is nothing signed
    # what the central system gives back is understood by the due-rules
    assert [d.decision for d in decisions_from_fhir([e["resource"] for e in entries[::2]])] == ["accepted", "declined"]


def test_the_bundle_reaches_the_fhir_server_exactly_once_even_when_replayed(store, library, signed_ids, sandbox, site_key):
    sandbox.seed([{"resourceType": "Patient", "id": "p-100", "name": [{"family": "Núñez Peña"}]}])
    for _attempt in range(3):  # the first delivery and two replays (e.g. the answer was lost)
        entries = consent_entries(store, signed_ids, PATIENT_REF, SYSTEM)
        bundle = Bundle.model_validate({"resourceType": "Bundle", "type": "transaction", "entry": entries})
        response = httpx.post(sandbox.url, content=bundle.model_dump_json(), timeout=30,
                              headers={"Content-Type": "application/fhir+json"})  # fmt: skip
        assert response.status_code == 200, response.text

    counts = sandbox.identifier_counts("Consent", consent_identifier_system(SYSTEM))
    assert counts == {signed_ids[0]: 1, signed_ids[1]: 1}
    assert sandbox.stats()["resources"]["Provenance"] == 2

    stored = sandbox.read(f"Consent?identifier={consent_identifier_system(SYSTEM)}|{signed_ids[0]}").json()
    consent = stored["entry"][0]["resource"]
    assert verify_pdf(base64.b64decode(consent["sourceAttachment"]["data"]), site_key).intact
    provenances = sandbox.read("Provenance").json()["entry"]
    assert {p["resource"]["target"][0]["reference"] for p in provenances} >= {f"Consent/{consent['id']}"}
