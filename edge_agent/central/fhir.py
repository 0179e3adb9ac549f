"""The FHIR R4 REST connector: one transaction Bundle per check-in, today's schedule by search."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import json
import logging
import re
import time
from pathlib import Path
from typing import NotRequired, TypedDict

import httpx
from pydantic import ValidationError

from lobby_core.appointments import ScheduledAppointment
from ..config import CentralCapabilities, CentralSection
from ..consents.due import decisions_from_fhir
from lobby_core.contract import Address, CoverageInfo, Demographics
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from lobby_core.outbox_events import CheckinV1, CheckinV2, OutboxEvent, PatientUpdateV1, UnknownEvent, parse_event
from ..fhir_bundle import (
    BundleEntry,
    CheckinBundle,
    CheckinSystems,
    EntryGroup,
    FhirResource,
    bundle_json,
    flatten,
    patient_update_entries,
    validated_transaction,
)
from ..json_types import JsonObject
from ..store import OutboxItem, Store
from .base import Delivery, ScheduleUnavailable, local_outcome
from .credentials import central_credentials
from .capabilities import Capabilities, CapabilitiesUnknown, discover
from .schedule_scope import ScheduleScope
from .strategies import DeliveryPlan, StrategyRefused, choose, reference_of_location, with_references

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
RETRYABLE_STATUS = {408, 429}
# What proves an entry done. A conditional create answers 200 (it existed) or 201 (created); 202 (queued)
# and 304 (only for a conditional read) prove nothing.
SUCCESS_STATUS = {"POST": {200, 201}, "PUT": {200, 201}, "PATCH": {200, 204}, "DELETE": {200, 204}, "GET": {200}}
MAX_PAGES = 100  # of schedule_scope.PAGE_SIZE appointments each
ID_CHUNK = 50  # ids per follow-up search (Patient?_id=a,b,...)
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


def sent_requests(entries: list[BundleEntry]) -> list[tuple[str, str]]:
    """(method, url) of every entry of a transaction we send, in order."""
    return [(entry["request"]["method"], entry["request"]["url"]) for entry in entries]


def transaction_response(response: httpx.Response) -> JsonObject | None:
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


def entry_outcome(entry: object) -> JsonObject | None:
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


def judge_entries(answer: JsonObject, sent: list[tuple[str, str]], prefix: str, after: float | None) -> Delivery:
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


def classify_single(response: httpx.Response, method: str, url: str) -> Delivery:
    """What central's answer to one plain request proves (the "individual" strategy)."""
    status = response.status_code
    after = retry_after_seconds(response.headers.get("retry-after"))
    what = f"{method} {re.split(r'[/?]', url)[0]}: HTTP {status}"
    if status in SUCCESS_STATUS.get(method, ()):
        return Delivery.delivered()
    if status in RETRYABLE_STATUS or status >= 500:
        return Delivery.retry(what, after)
    if 400 <= status < 500:
        return Delivery.rejected(what, response.text[:20000])
    return Delivery.retry(what, after)  # 202, 3xx: proves nothing


class IndividualRequest(TypedDict):
    """httpx arguments (of `FhirConnector._request`) sending one transaction entry as its own request."""

    headers: dict[str, str]
    content: NotRequired[bytes]


def individual_request(entry: BundleEntry) -> IndividualRequest:
    """httpx arguments sending one transaction entry as its own request."""
    request = entry["request"]
    headers: dict[str, str] = {}
    if request.get("ifNoneExist"):
        headers["If-None-Exist"] = request["ifNoneExist"]
    if request.get("ifMatch"):
        headers["If-Match"] = request["ifMatch"]
    if request["method"] == "PATCH":  # patch_entry: the JSON Patch is a Binary resource
        headers["Content-Type"] = JSON_PATCH
        return {"content": base64.b64decode(entry["resource"]["data"]), "headers": headers}
    resource = entry.get("resource")
    if resource is None:
        return {"headers": headers}
    return {"content": bundle_json(resource), "headers": headers}


def _created_location(response: httpx.Response) -> str | None:
    """Type/id of what a create answered: its Location header, else the returned resource."""
    found = reference_of_location(response.headers.get("location"))
    if found:
        return found
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("resourceType"), str) and isinstance(body.get("id"), str):
        return f"{body['resourceType']}/{body['id']}"
    return None


def _created(entries: list[BundleEntry], locations: list[object]) -> tuple[Delivery, dict[str, str]]:
    """{fullUrl: Type/id} of the sent entries that have a fullUrl; retry when central did not say where."""
    created: dict[str, str] = {}
    for entry, location in zip(entries, locations):
        if "fullUrl" not in entry:
            continue
        reference = reference_of_location(location)
        if reference is None:
            what = entry["request"]["url"].split("?")[0]
            return Delivery.retry(f"{what} confirmed without a location"), {}
        created[entry["fullUrl"]] = reference
    return Delivery.delivered(), created


def _in_part(result: Delivery, number: int, parts: int) -> Delivery:
    """`result` of part `number`, saying which part it was (what was confirmed before is kept)."""
    reason = f"part {number} of {parts}: {result.reason}"
    return Delivery(result.outcome, reason, result.after, result.server_outcome)


class DeadlineExceeded(httpx.TimeoutException):
    """A request took longer than `timeout_s` in total (httpx's own timeouts are per read and write)."""


class FhirConnector:
    kind = "fhir"
    schedule_scope: ScheduleScope = ScheduleScope()
    capability_pins: CentralCapabilities = CentralCapabilities()
    _capabilities: Capabilities | None = None

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

    async def _request(
        self, method: str, url: str, *, content: bytes | None = None, headers: dict[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> httpx.Response:  # fmt: skip
        """One request with a total deadline: connect, send, headers and the whole body within timeout_s,
        so a server trickling its answer cannot hold a delivery."""
        try:
            async with asyncio.timeout(self.timeout_s):
                query = None if params is None else tuple(params)  # httpx reads a tuple of pairs as it reads a list
                return await self.client.request(method, url, content=content, headers=headers, params=query)
        except TimeoutError:
            raise DeadlineExceeded(f"no complete answer within {self.timeout_s} s") from None

    # --- delivery --------------------------------------------------------------------------------

    def groups_for(self, event: OutboxEvent) -> list[EntryGroup]:
        """The entries of one event in delivery order (blocking: reads and may render consent PDFs)."""
        if isinstance(event, CheckinV1):
            return self.checkin_groups(event)
        if isinstance(event, PatientUpdateV1):
            return [EntryGroup("patient-update", patient_update_entries(event))]
        raise ValueError(f"event type {event.event_name!r} has no FHIR mapping")

    def bundle_for(self, event: OutboxEvent) -> bytes:
        """The whole event as one transaction (blocking)."""
        return bundle_json(validated_transaction(flatten(self.groups_for(event))))

    def checkin_groups(self, event: CheckinV1) -> list[EntryGroup]:
        card = None
        if isinstance(event, CheckinV2) and event.insurance_card:
            if self.store is None:
                raise ValueError("an insurance card to send but no store to read it from")
            from ..insurance_cards import load_card

            card = load_card(self.store, event.insurance_card)
            if card is None:  # purged only once delivered: a card missing before is a store fault
                raise LookupError("the check-in's insurance card is not in the store")
        bundle = CheckinBundle(event, CheckinSystems(self.identifier_system), card)
        consent_ids = event.consent_ids
        consents: list[BundleEntry] = []
        if consent_ids:
            if self.store is None:
                raise ValueError("consents to send but no store to read them from")
            from ..consents.fhir import consent_entries

            consents = consent_entries(
                self.store, consent_ids, bundle.patient_reference, self.identifier_system, self.translations_dir
            )
        return bundle.groups(consents)

    def checkin_bundle(self, event: CheckinV1) -> FhirResource:
        return validated_transaction(flatten(self.checkin_groups(event)))

    def configure_site(self, scope: ScheduleScope, pins: CentralCapabilities) -> None:
        """Which appointments are this site's, and what [central.capabilities] pins (connector_for)."""
        self.schedule_scope = scope
        self.capability_pins = pins

    async def capabilities(self) -> Capabilities:
        """The server's capabilities, read at the first need and again once a day."""
        if self._capabilities is None or self._capabilities.stale():
            self._capabilities = await discover(lambda url: self._request("GET", url), self.capability_pins)
        return self._capabilities

    async def delivery_plan(self) -> DeliveryPlan:
        return choose(await self.capabilities(), self.capability_pins.strategy)

    async def deliver(self, item: OutboxItem) -> Delivery:
        try:
            event = parse_event(item.event_type, item.payload)
        except (UnknownEvent, ValidationError) as exc:
            return Delivery.rejected("unmappable event", local_outcome(f"{type(exc).__name__}: cannot map event"))
        try:
            plan = await self.delivery_plan()
        except CapabilitiesUnknown as exc:
            return Delivery.retry(exc.reason)
        except StrategyRefused as exc:  # the server changed since start: hold everything, say why
            return Delivery.retry(f"strategy refused: {exc}")
        try:
            if isinstance(event, CheckinV1) and (event.consent_ids or isinstance(event, CheckinV2) and event.insurance_card):
                groups = await asyncio.to_thread(self.groups_for, event)
            else:
                groups = self.groups_for(event)
        except ValidationError as exc:
            return Delivery.rejected("invalid FHIR", local_outcome(describe_validation_error(exc)))
        except (ValueError, KeyError, TypeError, LookupError) as exc:
            return Delivery.rejected("unmappable event", local_outcome(f"{type(exc).__name__}: cannot map event"))
        confirmed: dict[str, dict[str, str]] = {}
        if self.store is not None and len(plan.parts(groups)) > 1:
            confirmed = await asyncio.to_thread(self.store.confirmed_parts, item.id)
        resolved = {urn: ref for refs in confirmed.values() for urn, ref in refs.items()}
        parts = plan.parts([group for group in groups if group.name not in confirmed])
        for number, part in enumerate(parts, 1):
            entries: list[BundleEntry] = with_references(flatten(part), resolved)
            if plan.strategy == "individual":
                result, created = await self._send_individually(entries)
            else:
                result, created = await self._send_transaction(entries)
            if result.outcome != "delivered":
                return result if len(parts) == 1 else _in_part(result, number, len(parts))
            resolved.update(created)
            if number < len(parts) and self.store is not None:  # the last one is recorded as the event
                await self.store.write(self.store.confirm_parts(item.id, [g.name for g in part], created))
        return Delivery.delivered()

    async def _send_transaction(self, entries: list[BundleEntry]) -> tuple[Delivery, dict[str, str]]:
        """One transaction; with what its entries created ({fullUrl: Type/id}) once it is proven."""
        try:
            body = bundle_json(validated_transaction(entries))
        except ValidationError as exc:
            return Delivery.rejected("invalid FHIR", local_outcome(describe_validation_error(exc))), {}
        try:
            response = await self._request("POST", "", content=body)
        except httpx.TimeoutException:
            return Delivery.retry("timeout"), {}
        except httpx.TransportError as exc:
            return Delivery.retry(type(exc).__name__), {}
        result = classify(response, sent_requests(entries))
        if result.outcome != "delivered":
            return result, {}
        answered = response.json()["entry"]
        return _created(entries, [_member(_member(e, "response"), "location") for e in answered])

    async def _send_individually(self, entries: list[BundleEntry]) -> tuple[Delivery, dict[str, str]]:
        """Each entry as its own request, in order, later ones referring to what earlier ones created."""
        created: dict[str, str] = {}
        for entry in entries:
            method, url = entry["request"]["method"], entry["request"]["url"]
            try:
                response = await self._request(method, url, **individual_request(with_references(entry, created)))
            except httpx.TimeoutException:
                return Delivery.retry("timeout"), {}
            except httpx.TransportError as exc:
                return Delivery.retry(type(exc).__name__), {}
            result = classify_single(response, method, url)
            if result.outcome != "delivered":
                return result, {}
            if "fullUrl" in entry:
                outcome, made = _created([entry], [_created_location(response)])
                if outcome.outcome != "delivered":
                    return outcome, {}
                created.update(made)
        return Delivery.delivered(), created

    async def ping(self) -> bool:
        try:
            response = await self._request("GET", "metadata")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # --- schedule --------------------------------------------------------------------------------

    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]:
        """The site's appointments of `day` (see schedule_scope), with their Patients and what is on file."""
        searches = self.schedule_scope.searches(day)
        if not searches:
            raise ScheduleUnavailable("no schedule scope: set schedule.locations or schedule.practitioners")
        try:
            include = (await self.capabilities()).search_include
        except CapabilitiesUnknown as exc:
            raise ScheduleUnavailable(str(exc)) from None
        found: dict[str, FhirResource] = {}
        for search in searches:
            for resource in await self._appointments(search, include):
                found[f"{resource['resourceType']}/{resource.get('id')}"] = resource
        for resource in await self._patients_on_file(found, with_records=not include):
            found[f"{resource['resourceType']}/{resource.get('id')}"] = resource
        return schedule_from_resources(list(found.values()))

    async def _appointments(self, search: list[tuple[str, str]], include: bool) -> list[FhirResource]:
        if not include:
            return await self._search_all("Appointment", search)
        with_patient = search + [("_include", "Appointment:patient")]
        on_file = [("_revinclude:iterate", "Coverage:beneficiary"), ("_revinclude:iterate", "Consent:patient")]
        try:
            return await self._search_all("Appointment", with_patient + on_file)
        except ScheduleUnavailable as first_failure:
            if "HTTP 400" not in str(first_failure):
                raise
            # A server that cannot add Coverage and Consent: the schedule without them.
            return await self._search_all("Appointment", with_patient)

    async def _patients_on_file(self, found: dict[str, FhirResource], with_records: bool) -> list[FhirResource]:
        """The Patients the appointments name that did not come with them (a server without _include),
        and, when asked, their Coverage and Consents, by id in chunks."""
        named = {
            _actor(r, "Patient").get("reference", "") for r in found.values() if r["resourceType"] == "Appointment"
        } - {""}
        missing = sorted(ref for ref in named if ref not in found)
        fetched: list[FhirResource] = []
        for chunk in _chunks([ref.partition("/")[2] for ref in missing], ID_CHUNK):
            fetched += await self._search_all("Patient", [("_id", ",".join(chunk)), ("_count", str(ID_CHUNK))])
        if with_records:
            for chunk in _chunks(sorted(named), ID_CHUNK):
                for kind, param in (("Coverage", "beneficiary"), ("Consent", "patient")):
                    fetched += await self._search_all(kind, [(param, ",".join(chunk)), ("_count", str(ID_CHUNK * 4))])
        return fetched

    async def _search_all(self, resource_type: str, params: list[tuple[str, str]]) -> list[FhirResource]:
        """Every page of a search (Bundle.link next, at most MAX_PAGES); never a silently cut result."""
        resources: list[FhirResource] = []
        matches = 0
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
            page = [entry["resource"] for entry in bundle.get("entry") or [] if "resource" in entry]
            resources.extend(page)
            matches += sum(1 for r in page if r.get("resourceType") == resource_type)
            following = [link["url"] for link in bundle.get("link") or [] if link.get("relation") == "next"]
            if not following:
                total = bundle.get("total")
                if isinstance(total, int) and total > matches:
                    raise ScheduleUnavailable(f"{resource_type} search gave {matches} of {total} without a next link")
                return resources
            url, query = following[0], None
        raise ScheduleUnavailable(f"more than {MAX_PAGES} pages of {resource_type}")


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- FHIR resources -> ScheduledAppointment --------------------------------------------------------


def _patient_demographics(patient: FhirResource) -> Demographics:
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


def _preferred_language(patient: FhirResource) -> str:
    """Patient.communication: the entry marked preferred, else the only one; its BCP 47 code."""
    communication = patient.get("communication", [])
    chosen = next((c for c in communication if c.get("preferred")), communication[0] if len(communication) == 1 else {})
    codes = [coding.get("code", "") for coding in chosen.get("language", {}).get("coding", [])]
    return next((code for code in codes if code), "")


def _mrn(patient: FhirResource) -> str:
    for identifier in patient.get("identifier", []):
        codes = {c.get("code") for c in identifier.get("type", {}).get("coding", [])}
        if "MR" in codes:
            value: str = identifier.get("value", "")
            return value
    return ""


def _coverage_info(coverage: FhirResource) -> CoverageInfo:
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


def _actor(appointment: FhirResource, kind: str) -> JsonObject:
    for participant in appointment.get("participant", []):
        actor: JsonObject = participant.get("actor", {})
        if actor.get("reference", "").startswith(f"{kind}/"):
            return actor
    return {}


def schedule_from_resources(resources: list[FhirResource]) -> list[ScheduledAppointment]:
    by_key = {f"{r['resourceType']}/{r.get('id')}": r for r in resources}
    coverage_of = {
        r.get("beneficiary", {}).get("reference"): r
        for r in resources
        if r["resourceType"] == "Coverage" and r.get("status", "active") == "active"
    }
    consents_of: dict[str, list[FhirResource]] = {}
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
                preferred_language=_preferred_language(patient),
            )
        )
    return sorted(schedule, key=lambda a: a.start)
