"""One check-in, or one accepted patient update, as a FHIR R4 transaction Bundle, every resource validated
with `fhir.resources.R4B`.

The Bundle is safe to replay: the Appointment changes with an idempotent JSON Patch (`replace
/status arrived`), and everything created carries a client-assigned business identifier derived from
the check-in id and is created with `ifNoneExist`, so a second delivery creates nothing. fullUrls are
deterministic `urn:uuid:`s, so a rebuilt Bundle is byte-for-byte the same.

Validation is done once per resource, on the very dict that is sent: each resource against its own R4B
model, then the Bundle's envelope (type, fullUrls, requests) against the Bundle model. Validating the
whole Bundle in one call would check the same things at twice the cost, and dumping the models back
to JSON would cost four times as much again (see bench/drain.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, NotRequired, TypeAlias, TypedDict

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from lobby_core.appointments import ScheduledAppointment
from lobby_core.contract import CoverageInfo
from lobby_core.outbox_events import CheckinV1, PatientUpdateV1

from .insurance_cards import StoredCard, coverage_of
from .json_types import JsonObject

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
LOINC = "http://loinc.org"
INSURANCE_CARD_LOINC = ("64290-0", "Health insurance card")

FhirResource: TypeAlias = JsonObject
"""A FHIR R4 resource as JSON: built here (validated with `fhir.resources.R4B`) or received from central."""

JsonPatch: TypeAlias = list[JsonObject]  # RFC 6902 operations: {"op": ..., "path": ..., "value": ...}


class BundleRequest(TypedDict):
    """A transaction entry's `request`."""

    method: str  # POST, PUT, PATCH
    url: str
    ifNoneExist: NotRequired[str]
    ifMatch: NotRequired[str]


class BundleEntry(TypedDict):
    """One entry of a transaction Bundle we send."""

    resource: FhirResource
    request: BundleRequest
    fullUrl: NotRequired[str]  # a urn:uuid: other entries refer to


ARRIVED_PATCH: JsonPatch = [{"op": "replace", "path": "/status", "value": "arrived"}]


@dataclass(frozen=True)
class EntryGroup:
    """Entries that go to central together (in one transaction, or in this order one by one): `name` is
    stable across rebuilds, so the outbox can record the group as confirmed."""

    name: str
    entries: list[BundleEntry]


def flatten(groups: Iterable[EntryGroup]) -> list[BundleEntry]:
    return [entry for group in groups for entry in group.entries]


def consent_groups(consent_entries: list[BundleEntry]) -> list[EntryGroup]:
    """The Consent + Provenance pairs of edge_agent/consents/fhir.py, one group per consent."""
    pairs = [consent_entries[i : i + 2] for i in range(0, len(consent_entries), 2)]
    return [EntryGroup(f"consent:{pair[0]['fullUrl'].removeprefix('urn:uuid:')}", pair) for pair in pairs]


class CheckinSystems:
    """The identifier systems of what a check-in creates, under the site's configured base system."""

    def __init__(self, base: str):
        self.checkin = f"{base}/checkin"
        self.coverage = f"{base}/coverage"
        self.insurance_card = f"{base}/insurance-card"
        self.document_category = f"{base}/document-category"
        self.intake = f"{base}/intake"
        self.walk_in_patient = f"{base}/walk-in-patient"


def validated(resource: FhirResource) -> FhirResource:
    """The resource, once its R4B model accepts it; raises pydantic.ValidationError otherwise."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def validated_transaction(entries: list[BundleEntry]) -> FhirResource:
    """A transaction Bundle of entries whose resources are already validated; checks the envelope."""
    envelope = [{key: value for key, value in entry.items() if key != "resource"} for entry in entries]
    Bundle.model_validate({"resourceType": "Bundle", "type": "transaction", "entry": envelope})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _compact(value: Any) -> Any:
    """Drop empty strings, lists, dicts and Nones: FHIR forbids empty elements."""
    if isinstance(value, dict):
        cleaned = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in ("", None, [], {})}
    if isinstance(value, list):
        return [item for item in (_compact(v) for v in value) if item not in ("", None, [], {})]
    return value


def _if_none_exist(system: str, value: str) -> str:
    return urllib.parse.urlencode({"identifier": f"{system}|{value}"})


def _urn(checkin_id: str, what: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(checkin_id), what)}"


def _answer_value(value: bool | int | float | str) -> JsonObject:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": value}


def _address(demographics: JsonObject | None) -> list[JsonObject]:
    address = (demographics or {}).get("address") or {}
    return [
        {
            "line": [address.get("street", "")],
            "city": address.get("city", ""),
            "state": address.get("state", ""),
            "postalCode": address.get("postal_code", ""),
            "country": address.get("country", ""),
        }
    ]


def _telecom(demographics: JsonObject | None) -> list[JsonObject]:
    demographics = demographics or {}
    return [{"system": system, "value": demographics[system]} for system in ("phone", "email") if demographics.get(system)]


def json_patch_binary(operations: JsonPatch) -> FhirResource:
    """A Binary carrying a JSON Patch, the body of a PATCH entry in a transaction Bundle (validated)."""
    return validated(
        {
            "resourceType": "Binary",
            "contentType": "application/json-patch+json",
            "data": base64.b64encode(json.dumps(operations).encode()).decode(),
        }
    )


def patch_entry(reference: str, operations: JsonPatch) -> BundleEntry:
    return {"resource": json_patch_binary(operations), "request": {"method": "PATCH", "url": reference}}


class CheckinBundle:
    """Builds the transaction for one `checkin.v1` outbox event."""

    def __init__(self, event: CheckinV1, systems: CheckinSystems, card: StoredCard | None = None):
        """`card`: the insurance card a `checkin.v2` event names, read from the store."""
        self.event = event
        self.card = card
        self.systems = systems
        self.checkin = event.checkin
        self.checkin_id = str(self.checkin.checkin_id)
        self.appointment = event.appointment
        self.arrived_at = event.arrived_at.isoformat()
        self.entries: list[BundleEntry] = []

    @property
    def encounter_url(self) -> str:
        return _urn(self.checkin_id, "Encounter")

    @property
    def patient_reference(self) -> str:
        if self.appointment:
            return f"Patient/{self.appointment.patient_id}"
        return _urn(self.checkin_id, "Patient")

    def build(self, consent_entries: Iterable[BundleEntry] = ()) -> FhirResource:
        """The Bundle as a dict; `consent_entries` are the Consent + Provenance entries of
        edge_agent/consents/fhir.py (validated there)."""
        return validated_transaction(flatten(self.groups(consent_entries)))

    def groups(self, consent_entries: Iterable[BundleEntry] = ()) -> list[EntryGroup]:
        """The entries in delivery order: the arrival (Appointment patch or walk-in Patient, and the
        Encounter), each consent with its provenance, then coverage and answers, then the scanned
        insurance card (a DocumentReference)."""
        self.entries = []
        if self.appointment is None:
            self._walk_in_patient()
        else:
            self._appointment_arrived(self.appointment)
        self._encounter()
        groups = [EntryGroup("arrival", self.entries)]
        groups += consent_groups(list(consent_entries))
        self.entries = []
        coverage = self.card_coverage() or self.checkin.coverage
        if coverage is not None:
            self._coverage(coverage)
        if self.checkin.answers:
            self._questionnaire_response()
        if self.entries:
            groups.append(EntryGroup("coverage-answers", self.entries))
        if self.card is not None:  # its own group: a server limiting transactions to 2 entries still takes it
            self.entries = []
            self._insurance_card(self.card)
            groups.append(EntryGroup("insurance-card", self.entries))
        return groups

    def _add(self, resource: FhirResource, method: str, url: str, *, full_url: str | None = None,
             if_none_exist: str | None = None) -> None:  # fmt: skip
        request = BundleRequest(method=method, url=url)
        if if_none_exist:
            request["ifNoneExist"] = if_none_exist
        entry = BundleEntry(resource=validated(_compact(resource)), request=request)
        if full_url:
            entry["fullUrl"] = full_url
        self.entries.append(entry)

    def _appointment_arrived(self, appointment: ScheduledAppointment) -> None:
        self.entries.append(patch_entry(f"Appointment/{appointment.appointment_id}", ARRIVED_PATCH))

    def _walk_in_patient(self) -> None:
        """No appointment matched: a provisional Patient the front desk links or merges at central."""
        patient = self.checkin.patient
        demographics = self.checkin.demographics.model_dump(mode="json") if self.checkin.demographics else None
        resource = {
            "resourceType": "Patient",
            "identifier": [{"system": self.systems.walk_in_patient, "value": self.checkin_id}],
            "name": [{"family": patient.family, "given": [patient.given]}],
            "birthDate": patient.birth_date.isoformat(),
            "address": _address(demographics),
            "telecom": _telecom(demographics),
        }
        self._add(
            resource, "POST", "Patient", full_url=self.patient_reference,
            if_none_exist=_if_none_exist(self.systems.walk_in_patient, self.checkin_id),
        )

    def _encounter(self) -> None:
        resource = {
            "resourceType": "Encounter",
            "identifier": [{"system": self.systems.checkin, "value": self.checkin_id}],
            "status": "arrived",
            "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
            "subject": {"reference": self.patient_reference},
            "period": {"start": self.arrived_at},
        }
        if self.appointment:
            resource["appointment"] = [{"reference": f"Appointment/{self.appointment.appointment_id}"}]
            resource["location"] = [{"location": {"display": self.appointment.location}}]
        self._add(
            resource, "POST", "Encounter", full_url=self.encounter_url,
            if_none_exist=_if_none_exist(self.systems.checkin, self.checkin_id),
        )

    def card_coverage(self) -> CoverageInfo | None:
        """The coverage the scanned card says (edge_agent/insurance_cards.coverage_of), None without one."""
        return None if self.card is None else coverage_of(self.card.fields, self.checkin.coverage)

    def _relationship(self) -> JsonObject | None:
        """Self, unless the card names another subscriber (then "other": the card does not say who)."""
        if self.card is None:
            return None  # coverage typed or read from an eGK: as before, nothing said
        subscriber = " ".join(self.card.value("subscriber_name").casefold().split())
        patient = self.checkin.patient
        names = {" ".join(f"{a} {b}".casefold().split()) for a, b in ((patient.given, patient.family), (patient.family, patient.given))}
        code = "self" if not subscriber or subscriber in names or subscriber.replace(",", "") in names else "other"
        return {"coding": [{"system": SUBSCRIBER_RELATIONSHIP, "code": code}]}

    def _insurance_card(self, card: StoredCard) -> None:
        """Both sides as one DocumentReference (attachments with their SHA-1, as FHIR's Attachment.hash
        is), created once: conditional on an identifier derived from the check-in id."""
        sides = [("front", card.front_jpeg), ("back", card.back_jpeg)]
        content = [
            {"attachment": {
                "contentType": "image/jpeg", "language": "en", "title": f"Insurance card, {side}",
                "data": base64.b64encode(data).decode(), "size": len(data),
                "hash": base64.b64encode(hashlib.sha1(data).digest()).decode(), "creation": self.arrived_at,
            }}
            for side, data in sides if data is not None
        ]  # fmt: skip
        code, display = INSURANCE_CARD_LOINC
        resource = {
            "resourceType": "DocumentReference",
            "identifier": [{"system": self.systems.insurance_card, "value": self.checkin_id}],
            "status": "current",
            "type": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": "Insurance card"},
            "category": [{"coding": [{"system": self.systems.document_category, "code": "insurance-card",
                                      "display": "Insurance card"}]}],  # fmt: skip
            "subject": {"reference": self.patient_reference},
            "date": self.arrived_at,
            "description": "Insurance card scanned at the lobby kiosk",
            "content": content,
            "context": {
                "encounter": [{"reference": self.encounter_url}],
                "related": [{"reference": _urn(self.checkin_id, "Coverage")}],
            },
        }
        self._add(
            resource, "POST", "DocumentReference", full_url=_urn(self.checkin_id, "DocumentReference"),
            if_none_exist=_if_none_exist(self.systems.insurance_card, self.checkin_id),
        )

    def _coverage(self, card: CoverageInfo) -> None:
        classes = [
            {"type": {"coding": [{"system": COVERAGE_CLASS, "code": code}]}, "value": value}
            for code, value in (("group", card.group), ("plan", card.plan))
            if value
        ]
        resource = {
            "resourceType": "Coverage",
            "identifier": [{"system": self.systems.coverage, "value": self.checkin_id}],
            "status": "active",
            "beneficiary": {"reference": self.patient_reference},
            "payor": [{"display": card.payor or "unknown payor"}],
            "subscriberId": card.member_id,
            "relationship": self._relationship(),
            "class": classes,
            "period": {"end": card.valid_until.isoformat()} if card.valid_until else None,
        }
        self._add(
            resource, "POST", "Coverage", full_url=_urn(self.checkin_id, "Coverage"),
            if_none_exist=_if_none_exist(self.systems.coverage, self.checkin_id),
        )

    def _questionnaire_response(self) -> None:
        items = []
        for answer in self.checkin.answers:
            item: dict[str, Any] = {"linkId": answer.link_id, "text": answer.text}
            if answer.value is not None and answer.value != "":
                item["answer"] = [_answer_value(answer.value)]
            items.append(item)
        resource = {
            "resourceType": "QuestionnaireResponse",
            "identifier": {"system": self.systems.intake, "value": self.checkin_id},
            "status": "completed",
            "subject": {"reference": self.patient_reference},
            "encounter": {"reference": self.encounter_url},
            "authored": self.arrived_at,
            "item": items,
        }
        self._add(
            resource, "POST", "QuestionnaireResponse", full_url=_urn(self.checkin_id, "QuestionnaireResponse"),
            if_none_exist=_if_none_exist(self.systems.intake, self.checkin_id),
        )


def checkin_bundle(event: CheckinV1, identifier_system: str, consent_entries: Iterable[BundleEntry] = ()) -> FhirResource:
    """The validated transaction Bundle for one `checkin.v1` event."""
    return CheckinBundle(event, CheckinSystems(identifier_system)).build(consent_entries)


def patient_update_bundle(event: PatientUpdateV1) -> FhirResource:
    """The validated transaction for one `patient_update.v1` event: a JSON Patch of the central Patient's
    address and telecom. `add` replaces a member that exists, so a replay leaves the Patient as it was."""
    return validated_transaction(patient_update_entries(event))


def patient_update_entries(event: PatientUpdateV1) -> list[BundleEntry]:
    demographics = event.demographics.model_dump(mode="json")
    changes = {
        "address": _compact(_address(demographics)) if demographics.get("address") else None,
        "telecom": _telecom(demographics) or None,
    }
    changes = {member: value for member, value in changes.items() if value}
    if not changes:
        raise ValueError("a patient update without an address, phone or email")
    validated({"resourceType": "Patient", **changes})
    operations = [{"op": "add", "path": f"/{member}", "value": value} for member, value in changes.items()]
    return [patch_entry(f"Patient/{event.patient_id}", operations)]


def bundle_json(bundle: FhirResource) -> bytes:
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()


def checkin_bundle_json(event: CheckinV1, identifier_system: str, consent_entries: Iterable[BundleEntry] = ()) -> bytes:
    return bundle_json(checkin_bundle(event, identifier_system, consent_entries))
