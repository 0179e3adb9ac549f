"""The FHIR R4 REST connector: one transaction Bundle per check-in, today's schedule by search."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import time

import httpx
from pydantic import ValidationError

from ..appointments import ScheduledAppointment
from ..config import CentralSection
from ..consents.due import decisions_from_fhir
from lobby_core.contract import Address, CoverageInfo, Demographics
from ..fhir_bundle import (
    CHECKIN_EVENT,
    PATIENT_UPDATE_EVENT,
    CheckinBundle,
    CheckinSystems,
    bundle_json,
    patient_update_bundle,
)
from ..store import OutboxItem, Store
from .base import Delivery, ScheduleUnavailable, local_outcome

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
RETRYABLE_STATUS = {408, 429}
MAX_PAGES = 50
SKIPPED_APPOINTMENT_STATUS = {"cancelled", "noshow", "entered-in-error"}


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header (delay in seconds or an HTTP date) as seconds from now; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def describe_validation_error(exc: ValidationError) -> str:
    """Which fields failed and why, without the offending values (they may be patient data)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])


def is_transaction_response(response: httpx.Response) -> bool:
    """A 2xx counts only with a transaction-response Bundle: a proxy's 200 page is not a delivery."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("resourceType") == "Bundle" and body.get("type") == "transaction-response"


def classify(response: httpx.Response) -> Delivery:
    status = response.status_code
    if 200 <= status < 300:
        if is_transaction_response(response):
            return Delivery.delivered()
        return Delivery.retry(f"HTTP {status} without a transaction-response")
    if status in RETRYABLE_STATUS or status >= 500:
        return Delivery.retry(f"HTTP {status}", retry_after_seconds(response.headers.get("retry-after")))
    return Delivery.rejected(f"HTTP {status}", response.text[:20000])


class FhirConnector:
    kind = "fhir"

    def __init__(
        self, central: CentralSection, store: Store | None = None, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.store = store  # where signed consents live (their PDFs go into the Bundle)
        headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
        if central.auth_token:
            headers["Authorization"] = f"Bearer {central.auth_token}"
        self.identifier_system = central.identifier_system
        connections = central.concurrency  # the pool polls every idle connection on each request
        self.client = httpx.AsyncClient(
            base_url=central.base_url + "/",
            headers=headers,
            timeout=central.timeout_s,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- delivery --------------------------------------------------------------------------------

    def bundle_for(self, item: OutboxItem) -> bytes:
        """The transaction for one event (blocking: reads and may render consent PDFs)."""
        builders = {CHECKIN_EVENT: self.checkin_bundle, PATIENT_UPDATE_EVENT: patient_update_bundle}
        if item.event_type not in builders:
            raise ValueError(f"event type {item.event_type!r} has no FHIR mapping")
        return bundle_json(builders[item.event_type](item.payload))

    def checkin_bundle(self, payload: dict) -> dict:
        bundle = CheckinBundle(payload, CheckinSystems(self.identifier_system))
        consent_ids = payload.get("consent_ids") or []
        consents: list[dict] = []
        if consent_ids:
            if self.store is None:
                raise ValueError("consents to send but no store to read them from")
            from ..consents.fhir import consent_entries

            consents = consent_entries(self.store, consent_ids, bundle.patient_reference, self.identifier_system)
        return bundle.build(consents)

    async def deliver(self, item: OutboxItem) -> Delivery:
        try:
            if item.payload.get("consent_ids"):
                body = await asyncio.to_thread(self.bundle_for, item)
            else:
                body = self.bundle_for(item)
        except ValidationError as exc:
            return Delivery.rejected("invalid FHIR", local_outcome(describe_validation_error(exc)))
        except (ValueError, KeyError, TypeError, LookupError) as exc:
            return Delivery.rejected("unmappable event", local_outcome(f"{type(exc).__name__}: cannot map event"))
        try:
            response = await self.client.post("", content=body)
        except httpx.TimeoutException:
            return Delivery.retry("timeout")
        except httpx.TransportError as exc:
            return Delivery.retry(type(exc).__name__)
        return classify(response)

    async def ping(self) -> bool:
        try:
            response = await self.client.get("metadata")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # --- schedule --------------------------------------------------------------------------------

    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]:
        schedule = [("date", day.isoformat()), ("_include", "Appointment:patient")]
        on_file = [("_revinclude:iterate", "Coverage:beneficiary"), ("_revinclude:iterate", "Consent:patient")]
        try:
            resources = await self._search_all("Appointment", schedule + on_file)
        except ScheduleUnavailable as first_failure:
            if "HTTP 400" not in str(first_failure):
                raise
            # A server that cannot add Coverage and Consent: the schedule without them.
            resources = await self._search_all("Appointment", schedule)
        return schedule_from_resources(resources)

    async def _search_all(self, resource_type: str, params: list[tuple[str, str]]) -> list[dict]:
        resources: list[dict] = []
        url: str = resource_type
        query: list[tuple[str, str]] | None = params
        for _page in range(MAX_PAGES):
            try:
                response = await self.client.get(url, params=query)
            except httpx.HTTPError as exc:
                raise ScheduleUnavailable(type(exc).__name__) from None
            if response.status_code != 200:
                raise ScheduleUnavailable(f"HTTP {response.status_code}")
            bundle = response.json()
            resources.extend(entry["resource"] for entry in bundle.get("entry", []) if "resource" in entry)
            following = [link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"]
            if not following:
                return resources
            url, query = following[0], None
        raise ScheduleUnavailable(f"more than {MAX_PAGES} pages of appointments")


# --- FHIR resources -> ScheduledAppointment --------------------------------------------------------


def _patient_demographics(patient: dict) -> Demographics:
    address = (patient.get("address") or [{}])[0]
    telecom = {t.get("system"): t.get("value", "") for t in patient.get("telecom", [])}
    return Demographics(
        address=Address(
            street=" ".join(address.get("line", [])),
            city=address.get("city", ""),
            state=address.get("state", ""),
            postal_code=address.get("postalCode", ""),
            country=address.get("country", ""),
        )
        if address
        else None,
        phone=telecom.get("phone", ""),
        email=telecom.get("email", ""),
    )


def _mrn(patient: dict) -> str:
    for identifier in patient.get("identifier", []):
        codes = {c.get("code") for c in identifier.get("type", {}).get("coding", [])}
        if "MR" in codes:
            return identifier.get("value", "")
    return ""


def _coverage_info(coverage: dict) -> CoverageInfo:
    classes = {
        coding.get("code"): entry.get("value", "")
        for entry in coverage.get("class", [])
        for coding in entry.get("type", {}).get("coding", [])
    }
    end = coverage.get("period", {}).get("end")
    return CoverageInfo(
        payor=(coverage.get("payor") or [{}])[0].get("display", ""),
        member_id=coverage.get("subscriberId", ""),
        group=classes.get("group", ""),
        plan=classes.get("plan", ""),
        valid_until=dt.date.fromisoformat(end[:10]) if end else None,
        source="file",
    )


def _actor(appointment: dict, kind: str) -> dict:
    for participant in appointment.get("participant", []):
        actor = participant.get("actor", {})
        if actor.get("reference", "").startswith(f"{kind}/"):
            return actor
    return {}


def schedule_from_resources(resources: list[dict]) -> list[ScheduledAppointment]:
    by_key = {f"{r['resourceType']}/{r.get('id')}": r for r in resources}
    coverage_of = {
        r.get("beneficiary", {}).get("reference"): r
        for r in resources
        if r["resourceType"] == "Coverage" and r.get("status", "active") == "active"
    }
    consents_of: dict[str, list[dict]] = {}
    for consent in resources:
        if consent["resourceType"] == "Consent":
            consents_of.setdefault(consent.get("patient", {}).get("reference", ""), []).append(consent)
    schedule = []
    for appointment in resources:
        if appointment["resourceType"] != "Appointment" or appointment.get("status") in SKIPPED_APPOINTMENT_STATUS:
            continue
        patient_ref = _actor(appointment, "Patient").get("reference", "")
        patient = by_key.get(patient_ref)
        if patient is None or "start" not in appointment or "birthDate" not in patient:
            continue
        name = (patient.get("name") or [{}])[0]
        appointment_type = json.dumps(appointment.get("appointmentType", {})).lower()
        coverage = coverage_of.get(patient_ref)
        schedule.append(
            ScheduledAppointment(
                appointment_id=appointment["id"],
                start=dt.datetime.fromisoformat(appointment["start"]),
                clinician=_actor(appointment, "Practitioner").get("display", ""),
                location=_actor(appointment, "Location").get("display", ""),
                patient_id=patient["id"],
                family=name.get("family", ""),
                given=" ".join(name.get("given", [])),
                birth_date=dt.date.fromisoformat(patient["birthDate"]),
                demographics=_patient_demographics(patient),
                coverage=_coverage_info(coverage) if coverage else None,
                new_patient='"new' in appointment_type,
                mrn=_mrn(patient),
                central_consents=tuple(decisions_from_fhir(consents_of.get(patient_ref, []))),
            )
        )
    return sorted(schedule, key=lambda a: a.start)
