"""The FHIR R4 REST connector: one transaction Bundle per check-in, today's schedule by search."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import re
import time
from pathlib import Path

import httpx
from pydantic import ValidationError

from lobby_core.appointments import ScheduledAppointment
from ..config import CentralSection
from ..consents.due import decisions_from_fhir
from lobby_core.contract import Address, CoverageInfo, Demographics
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from lobby_core.outbox_events import CheckinV1, OutboxEvent, PatientUpdateV1, UnknownEvent, parse_event
from ..fhir_bundle import (
    CheckinBundle,
    CheckinSystems,
    bundle_json,
    patient_update_bundle,
)
from ..store import OutboxItem, Store
from .base import Delivery, ScheduleUnavailable, local_outcome
from .credentials import central_credentials

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
RETRYABLE_STATUS = {408, 429}
# What proves an entry done. A conditional create answers 200 (it existed) or 201 (created); 202 (queued)
# and 304 (only for a conditional read) prove nothing.
SUCCESS_STATUS = {"POST": {200, 201}, "PUT": {200, 201}, "PATCH": {200, 204}, "DELETE": {200, 204}, "GET": {200}}
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


def sent_requests(body: bytes) -> list[tuple[str, str]]:
    """(method, url) of every entry of a transaction we send, in order."""
    return [(entry["request"]["method"], entry["request"]["url"]) for entry in json.loads(body)["entry"]]


def transaction_response(response: httpx.Response) -> dict | None:
    """The transaction-response Bundle of a 2xx; None for anything else (a proxy's 200 page)."""
    try:
        body = response.json()
    except ValueError:
        return None
    is_answer = isinstance(body, dict) and body.get("resourceType") == "Bundle" and body.get("type") == "transaction-response"
    return body if is_answer else None


def _member(value: object, name: str) -> object:
    """`value[name]` when value is a JSON object; None otherwise (central's answer is not trusted)."""
    return value.get(name) if isinstance(value, dict) else None


def entry_status(entry: object) -> int | None:
    """The HTTP code a response entry starts its `response.status` with ("201 Created" -> 201)."""
    status = _member(_member(entry, "response"), "status")
    match = re.match(r"\s*(\d{3})\b", status) if isinstance(status, str) else None
    return int(match[1]) if match else None


def entry_outcome(entry: object) -> dict | None:
    for candidate in (_member(_member(entry, "response"), "outcome"), _member(entry, "resource")):
        if isinstance(candidate, dict) and candidate.get("resourceType") == "OperationOutcome":
            return candidate
    return None


def refusal_outcome(refusals: list[tuple[str, object]]) -> str:
    """The refused entries' OperationOutcomes as one, each issue saying which entry it is about."""
    issues = []
    for label, entry in refusals:
        outcome = entry_outcome(entry)
        listed = _member(outcome, "issue")
        found = [issue for issue in listed if isinstance(issue, dict)] if isinstance(listed, list) else []
        for issue in found:
            said = issue.get("diagnostics") or _member(issue.get("details"), "text") or issue.get("code", "")
            issues.append({**issue, "diagnostics": f"{label}: {said}"})
        if not found:
            status = _member(_member(entry, "response"), "status")
            issues.append({"severity": "error", "code": "processing",
                           "diagnostics": f"{label}: answered {status} without an OperationOutcome"})  # fmt: skip
    return json.dumps({"resourceType": "OperationOutcome", "issue": issues})


def judge_entries(answer: dict, sent: list[tuple[str, str]], prefix: str, after: float | None) -> Delivery:
    """Proof of delivery: one entry per request entry, each with a status that means done. A refusal
    (4xx) of any entry dead-letters; else a transient failure (5xx, 408, 429) or an entry that proves
    nothing (no status, 202, 3xx) is retried."""
    entries = answer.get("entry") or []
    if not isinstance(entries, list) or len(entries) != len(sent):
        answered = len(entries) if isinstance(entries, list) else 0
        return Delivery.retry(f"{prefix}: {answered} of {len(sent)} entries answered", after)
    refusals: list[tuple[str, object]] = []
    first_refusal = transient = unproven = ""
    for number, (entry, (method, url)) in enumerate(zip(entries, sent), 1):
        code = entry_status(entry)
        if code in SUCCESS_STATUS.get(method, ()):
            continue
        what = f"({method} {re.split(r'[/?]', url)[0]})"
        where = f"entry {number} of {len(sent)} {what}"
        if code is None:
            unproven = unproven or f"{where} without a status"
        elif code in RETRYABLE_STATUS or code >= 500:
            transient = transient or f"{where} {code}"
        elif 400 <= code < 500:
            first_refusal = first_refusal or f"{where} {code}"
            refusals.append((f"entry {number} {what}", entry))
        else:
            unproven = unproven or f"{where} {code}"
    if refusals:
        return Delivery.rejected(f"{prefix}: {first_refusal}", refusal_outcome(refusals))
    if transient or unproven:
        return Delivery.retry(f"{prefix}: {transient or unproven}", after)
    return Delivery.delivered()


def classify(response: httpx.Response, sent: list[tuple[str, str]]) -> Delivery:
    """What central's answer to the transaction `sent` (its entries' method and url) proves."""
    status = response.status_code
    after = retry_after_seconds(response.headers.get("retry-after"))
    if 200 <= status < 300:
        answer = transaction_response(response)
        if answer is None:
            return Delivery.retry(f"HTTP {status} without a transaction-response", after)
        return judge_entries(answer, sent, f"HTTP {status}", after)
    if status in RETRYABLE_STATUS or status >= 500:
        return Delivery.retry(f"HTTP {status}", after)
    return Delivery.rejected(f"HTTP {status}", response.text[:20000])


class DeadlineExceeded(httpx.TimeoutException):
    """A request took longer than `timeout_s` in total (httpx's own timeouts are per read and write)."""


class FhirConnector:
    kind = "fhir"

    def __init__(
        self,
        central: CentralSection,
        store: Store | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        key_dir: Path | None = None,
        translations_dir: Path = DEFAULT_TRANSLATIONS_DIR,
    ):
        self.store = store  # where signed consents live (their PDFs go into the Bundle)
        self.translations_dir = translations_dir  # the site's wording of those PDFs
        headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
        self.credentials = central_credentials(central, key_dir)  # central.auth: bearer, SMART, mTLS
        self.identifier_system = central.identifier_system
        self.timeout_s = central.timeout_s
        connections = central.concurrency  # the pool polls every idle connection on each request
        self.client = httpx.AsyncClient(
            base_url=central.base_url + "/",
            headers=headers,
            auth=self.credentials.auth,
            verify=self.credentials.verify,
            timeout=central.timeout_s,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.credentials.aclose()

    async def _request(self, method: str, url: str, **kwargs) -> httpx.Response:
        """One request with a total deadline: connect, send, headers and the whole body within timeout_s,
        so a server trickling its answer cannot hold a delivery."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.client.request(method, url, **kwargs)
        except TimeoutError:
            raise DeadlineExceeded(f"no complete answer within {self.timeout_s} s") from None

    # --- delivery --------------------------------------------------------------------------------

    def bundle_for(self, event: OutboxEvent) -> bytes:
        """The transaction for one event (blocking: reads and may render consent PDFs)."""
        if isinstance(event, CheckinV1):
            return bundle_json(self.checkin_bundle(event))
        if isinstance(event, PatientUpdateV1):
            return bundle_json(patient_update_bundle(event))
        raise ValueError(f"event type {event.event_name!r} has no FHIR mapping")

    def checkin_bundle(self, event: CheckinV1) -> dict:
        bundle = CheckinBundle(event, CheckinSystems(self.identifier_system))
        consent_ids = event.consent_ids
        consents: list[dict] = []
        if consent_ids:
            if self.store is None:
                raise ValueError("consents to send but no store to read them from")
            from ..consents.fhir import consent_entries

            consents = consent_entries(
                self.store, consent_ids, bundle.patient_reference, self.identifier_system, self.translations_dir
            )
        return bundle.build(consents)

    async def deliver(self, item: OutboxItem) -> Delivery:
        try:
            event = parse_event(item.event_type, item.payload)
        except (UnknownEvent, ValidationError) as exc:
            return Delivery.rejected("unmappable event", local_outcome(f"{type(exc).__name__}: cannot map event"))
        try:
            if isinstance(event, CheckinV1) and event.consent_ids:
                body = await asyncio.to_thread(self.bundle_for, event)
            else:
                body = self.bundle_for(event)
        except ValidationError as exc:
            return Delivery.rejected("invalid FHIR", local_outcome(describe_validation_error(exc)))
        except (ValueError, KeyError, TypeError, LookupError) as exc:
            return Delivery.rejected("unmappable event", local_outcome(f"{type(exc).__name__}: cannot map event"))
        try:
            response = await self._request("POST", "", content=body)
        except httpx.TimeoutException:
            return Delivery.retry("timeout")
        except httpx.TransportError as exc:
            return Delivery.retry(type(exc).__name__)
        return classify(response, sent_requests(body))

    async def ping(self) -> bool:
        try:
            response = await self._request("GET", "metadata")
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
                response = await self._request("GET", url, params=query)
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
