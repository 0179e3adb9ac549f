"""What the central FHIR server can do: read from its CapabilityStatement (`[base]/metadata`) and
`.well-known/smart-configuration`, then pinned or overridden by the site's `[central.capabilities]`.

A CapabilityStatement cannot say how large a transaction may be. Servers known to cap it are listed in
KNOWN_TRANSACTION_LIMITS by `software.name`; any other limit is pinned with `max_transaction_entries`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Literal, TypedDict

import httpx

from ..config import CentralCapabilities
from ..json_types import JsonObject

JSON_PATCH = "application/json-patch+json"
FHIRPATH_PATCH = "application/fhir+json"  # a Parameters resource (FHIRPath Patch)
# What a check-in creates with a conditional create (`If-None-Exist` / `ifNoneExist`).
CREATED_TYPES = ("Patient", "Encounter", "Coverage", "QuestionnaireResponse", "Consent")
# Medplum (@medplum/fhir-router, batch.ts `maxSerializableTransactionEntries`): a transaction holding a
# conditional create needs strict isolation and is refused above 8 entries ("Transaction requires
# strict isolation but has too many entries").
KNOWN_TRANSACTION_LIMITS = {"medplum": 8}
REFRESH_EVERY_S = 24 * 3600.0

Getter = Callable[[str], Awaitable[httpx.Response]]


class CapabilitiesUnknown(Exception):
    """The server's CapabilityStatement could not be read (down, or not FHIR). `reason`: what a delivery
    held for it reports ("ConnectError", "HTTP 503"), as for any other request."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Capabilities:
    software: str = ""
    fhir_version: str = ""
    transactions: bool = False
    batch: bool = False
    max_transaction_entries: int | None = None
    conditional_create: bool = False  # for every type in CREATED_TYPES
    without_conditional_create: tuple[str, ...] = CREATED_TYPES
    patch: bool = False  # JSON Patch on Appointment and Patient
    patch_formats: tuple[str, ...] = ()
    appointment_search: frozenset[str] | None = None  # None: the server does not list them
    search_include: bool = False  # _include Appointment:patient and _revinclude Coverage/Consent
    smart_token_endpoint: str = ""
    pinned: tuple[str, ...] = ()  # fields [central.capabilities] set
    read_at: float = 0.0

    def describe(self) -> list[str]:
        """One line per capability, marking what the site file pinned."""

        def mark(name: str) -> str:
            return " (pinned by [central.capabilities])" if name in self.pinned else ""

        def yes(value: bool) -> str:
            return "yes" if value else "no"

        limit = f", at most {self.max_transaction_entries} entries" if self.max_transaction_entries else ""
        search = ", ".join(sorted(self.appointment_search)) if self.appointment_search is not None else "not listed"
        missing = f" (not for {', '.join(self.without_conditional_create)})" if self.without_conditional_create else ""
        return [
            f"server: {self.software or 'unnamed'} (FHIR {self.fhir_version or '?'})",
            f"transactions: {yes(self.transactions)}{limit}{mark('transactions')}{mark('max_transaction_entries')}",
            f"batch: {yes(self.batch)}{mark('batch')}",
            f"conditional create: {yes(self.conditional_create)}{missing}{mark('conditional_create')}",
            f"patch: {', '.join(self.patch_formats) or 'none'}{mark('patch')}",
            f"appointment search: {search}{mark('appointment_search')}",
            f"search _include/_revinclude: {yes(self.search_include)}{mark('search_include')}",
            f"SMART token endpoint: {self.smart_token_endpoint or 'none'}",
        ]

    def stale(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) - self.read_at > REFRESH_EVERY_S


def _server_rest(statement: JsonObject) -> JsonObject:
    rests = statement.get("rest") or []
    for rest in rests:
        if isinstance(rest, dict) and rest.get("mode", "server") == "server":
            return rest
    return {}


def _codes(items: object) -> set[str]:
    return {item.get("code", "") for item in items if isinstance(item, dict)} if isinstance(items, list) else set()


def from_statement(statement: JsonObject, smart: JsonObject | None = None) -> Capabilities:
    """What a CapabilityStatement (and a SMART configuration) announce."""
    rest = _server_rest(statement)
    system = _codes(rest.get("interaction"))
    resources = {r.get("type"): r for r in rest.get("resource") or [] if isinstance(r, dict)}
    without = tuple(t for t in CREATED_TYPES if not (resources.get(t) or {}).get("conditionalCreate"))
    formats = tuple(f for f in statement.get("patchFormat") or [] if isinstance(f, str))
    patchable = all("patch" in _codes((resources.get(t) or {}).get("interaction")) for t in ("Appointment", "Patient"))
    appointment = resources.get("Appointment") or {}
    params = appointment.get("searchParam")
    names = frozenset(p.get("name", "") for p in params if isinstance(p, dict)) if isinstance(params, list) else None
    includes = set(appointment.get("searchInclude") or [])
    revincludes = set((resources.get("Coverage") or {}).get("searchRevInclude") or []) | set(
        appointment.get("searchRevInclude") or []
    )
    software = (statement.get("software") or {}).get("name", "")
    limit = next((n for name, n in KNOWN_TRANSACTION_LIMITS.items() if name in software.lower()), None)
    return Capabilities(
        software=software,
        fhir_version=statement.get("fhirVersion", ""),
        transactions="transaction" in system,
        batch="batch" in system,
        max_transaction_entries=limit,
        conditional_create=not without,
        without_conditional_create=without,
        patch=patchable and (JSON_PATCH in formats or not formats),
        patch_formats=formats or ((JSON_PATCH,) if patchable else ()),
        appointment_search=names,
        search_include="Appointment:patient" in includes and "Coverage:beneficiary" in revincludes,
        smart_token_endpoint=(smart or {}).get("token_endpoint", ""),
        read_at=time.time(),
    )


PlainPin = Literal["transactions", "batch", "max_transaction_entries", "patch", "search_include"]


class PinnedChanges(TypedDict, total=False):
    """The Capabilities fields a site file's [central.capabilities] replaces."""

    transactions: bool
    batch: bool
    max_transaction_entries: int | None
    patch: bool
    search_include: bool
    conditional_create: bool
    without_conditional_create: tuple[str, ...]
    patch_formats: tuple[str, ...]
    appointment_search: frozenset[str] | None


def with_overrides(found: Capabilities, pins: CentralCapabilities) -> Capabilities:
    """`found` with every capability the site file sets replaced by the site file's value."""
    changes: PinnedChanges = {}
    names: tuple[PlainPin, ...] = ("transactions", "batch", "max_transaction_entries", "patch", "search_include")
    for name in names:
        value = getattr(pins, name)
        if value is not None:
            changes[name] = value
    if pins.conditional_create is not None:
        changes["conditional_create"] = pins.conditional_create
        changes["without_conditional_create"] = () if pins.conditional_create else CREATED_TYPES
    if pins.patch and JSON_PATCH not in found.patch_formats:
        changes["patch_formats"] = (*found.patch_formats, JSON_PATCH)
    if pins.appointment_search is not None:
        changes["appointment_search"] = frozenset(pins.appointment_search)
    pinned = tuple(name for name in CentralCapabilities.model_fields if name != "strategy" and getattr(pins, name) is not None)
    return dataclasses.replace(found, **changes, pinned=pinned)


async def discover(get: Getter, pins: CentralCapabilities) -> Capabilities:
    """Read the server's capabilities (raises CapabilitiesUnknown when it does not answer with one)."""
    try:
        response = await get("metadata")
    except httpx.HTTPError as exc:
        raise CapabilitiesUnknown(f"GET metadata: {type(exc).__name__}", type(exc).__name__) from None
    statement = _json_object(response)
    if response.status_code != 200 or statement.get("resourceType") != "CapabilityStatement":
        raise CapabilitiesUnknown(
            f"GET metadata: HTTP {response.status_code} without a CapabilityStatement", f"HTTP {response.status_code}"
        )
    smart: JsonObject | None = None
    try:
        answer = await get(".well-known/smart-configuration")
        smart = _json_object(answer) if answer.status_code == 200 else None
    except httpx.HTTPError:
        smart = None
    return with_overrides(from_statement(statement, smart), pins)


def _json_object(response: httpx.Response) -> JsonObject:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
