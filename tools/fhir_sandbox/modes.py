"""Servers differ: the sandbox can behave as a server that limits transactions or has none, and its
CapabilityStatement says what the current mode supports.

- default: transactions of any size, conditional create, JSON Patch, the searches the agent uses;
- `max_transaction_entries = N`: a transaction holding a conditional create is refused above N entries
  (HTTP 400, the OperationOutcome text Medplum answers, its limit being 8);
- `transactions = False`: no transaction (nor batch) at the base: POST of a Bundle answers 405.
"""

from __future__ import annotations

from dataclasses import dataclass

from .outcomes import FhirError, now_instant

STRICT_ISOLATION_REFUSAL = "Transaction requires strict isolation but has too many entries"
RESOURCE_TYPES = ("Patient", "Appointment", "Encounter", "Coverage", "QuestionnaireResponse", "Consent", "Provenance",
                  "DocumentReference")
SEARCH_PARAMS = {
    "Appointment": ("date", "location", "practitioner", "actor", "patient", "status", "_id"),
    "Patient": ("identifier", "_id"),
    "Coverage": ("beneficiary", "identifier", "_id"),
    "Consent": ("patient", "identifier", "_id"),
    "DocumentReference": ("patient", "subject", "identifier", "_id"),
}


@dataclass(frozen=True)
class SandboxMode:
    transactions: bool = True
    max_transaction_entries: int | None = None

    def describe(self) -> str:
        if not self.transactions:
            return "no transactions"
        if self.max_transaction_entries:
            return f"transactions with conditional create of at most {self.max_transaction_entries} entries"
        return "transactions of any size"

    def admit_transaction(self, bundle: dict) -> None:
        """Refuse what the emulated server refuses, before anything is applied."""
        if not self.transactions:
            raise FhirError(405, "not-supported", "this server does not support transaction or batch Bundles")
        entries = bundle.get("entry") or []
        conditional = any((entry.get("request") or {}).get("ifNoneExist") for entry in entries if isinstance(entry, dict))
        if self.max_transaction_entries and conditional and len(entries) > self.max_transaction_entries:
            raise FhirError(400, "invalid", STRICT_ISOLATION_REFUSAL)

    def capability_statement(self) -> dict:
        resources = []
        for resource_type in RESOURCE_TYPES:
            resource = {
                "type": resource_type,
                "interaction": [{"code": code} for code in ("read", "create", "update", "patch", "search-type")],
                "conditionalCreate": True,
                "searchParam": [{"name": name, "type": "token"} for name in SEARCH_PARAMS.get(resource_type, ("_id",))],
            }
            if resource_type == "Appointment":
                resource["searchInclude"] = ["Appointment:patient"]
                resource["searchRevInclude"] = ["Coverage:beneficiary", "Consent:patient"]
            resources.append(resource)
        interactions = [{"code": "transaction"}] if self.transactions else []
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": now_instant()[:10],
            "kind": "instance",
            "software": {"name": "lobby-checkin FHIR sandbox", "version": self.describe()},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "patchFormat": ["application/json-patch+json"],
            "rest": [{"mode": "server", "interaction": interactions, "resource": resources}],
        }
