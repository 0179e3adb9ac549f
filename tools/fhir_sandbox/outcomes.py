"""OperationOutcomes, the error that carries one, and validation with fhir.resources.R4B."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


class FhirError(Exception):
    def __init__(self, status: int, code: str, diagnostics: str):
        super().__init__(diagnostics)
        self.status = status
        self.outcome = operation_outcome(code, diagnostics)


def validated(resource: Any, expected_type: str | None = None) -> dict:
    """The resource as a dict once fhir.resources.R4B accepts it; FhirError(400) otherwise."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirError(400, "structure", "body is not a FHIR resource")
    resource_type = resource["resourceType"]
    if expected_type is not None and resource_type != expected_type:
        raise FhirError(400, "invalid", f"expected a {expected_type}, got a {resource_type}")
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        raise FhirError(400, "not-supported", f"unknown resource type {resource_type}")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()[:10]
        )
        raise FhirError(400, "invalid", f"{resource_type} failed validation: {problems}")
    return resource


def validated_bundle(bundle: Any) -> dict:
    """Every resource against its own model, then the envelope: the same checks as validating the Bundle
    in one call, at half the cost (the one-call path re-dispatches every nested resource)."""
    if not isinstance(bundle, dict) or not isinstance(bundle.get("entry", []), list):
        raise FhirError(400, "structure", "body is not a Bundle")
    for index, entry in enumerate(bundle.get("entry", [])):
        if not isinstance(entry, dict):
            raise FhirError(400, "structure", f"entry {index} is not an object")
        if "resource" in entry:
            try:
                validated(entry["resource"])
            except FhirError as exc:
                exc.outcome["issue"][0]["diagnostics"] = f"entry {index}: {exc.outcome['issue'][0]['diagnostics']}"
                raise
    envelope = {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"} for e in bundle.get("entry", [])]}
    validated(envelope, "Bundle")
    return bundle


def now_instant() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
