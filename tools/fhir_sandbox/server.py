"""The FHIR interactions: search, create (conditional), update (If-Match), JSON Patch, transactions."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse
import uuid
from typing import Any

import jsonpatch

from .outcomes import FhirError, validated, validated_bundle
from .storage import ResourceStore

# `_revinclude` targets the sandbox serves: resources that point at a matched or included Patient.
PATIENT_REVINCLUDES = ("Coverage:beneficiary", "Consent:patient")
APPOINTMENT_ACTORS = {"location": "Location", "practitioner": "Practitioner"}
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


def _int_param(params: list[tuple[str, str]], name: str, default: int) -> int:
    values = [value for key, value in params if key == name]
    if not values:
        return default
    try:
        return max(0, int(values[-1]))
    except ValueError:
        raise FhirError(400, "invalid", f"{name} must be a number")


def _date_filter(value: str):
    """An Appointment `date` filter: a day (`2026-12-01`) or an instant with a prefix
    (`ge2026-12-01T00:00:00-06:00`), compared with the Appointment's start."""
    prefix, when = (value[:2], value[2:]) if value[:2] in DATE_PREFIXES else ("eq", value)
    if len(when) == 10:
        day = when
        compare = {"eq": day.__eq__, "ne": day.__ne__, "gt": day.__lt__, "lt": day.__gt__, "ge": day.__le__, "le": day.__ge__}
        return lambda r: bool(r.get("start")) and compare[prefix](r["start"][:10])
    try:
        instant = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(400, "invalid", f"date {value!r} is not a date or an instant")
    if instant.tzinfo is None:
        raise FhirError(400, "invalid", f"date {value!r} needs a time zone")
    tests = {"eq": instant.__eq__, "ne": instant.__ne__, "gt": instant.__lt__, "lt": instant.__gt__,
             "ge": instant.__le__, "le": instant.__ge__}  # fmt: skip

    def matches(resource: dict) -> bool:
        start = resource.get("start")
        return bool(start) and tests[prefix](dt.datetime.fromisoformat(start.replace("Z", "+00:00")))

    return matches


def _references(value: Any, resolved: dict[str, str]) -> Any:
    """Rewrite `reference` values that name a fullUrl of this transaction to the stored Type/id."""
    if isinstance(value, dict):
        return {
            key: resolved.get(item, item) if key == "reference" and isinstance(item, str) else _references(item, resolved)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_references(item, resolved) for item in value]
    return value


def _reference_targets(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.add(item)
            else:
                found |= _reference_targets(item)
    elif isinstance(value, list):
        for item in value:
            found |= _reference_targets(item)
    return found


def _etag(resource: dict) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def _location(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}/_history/{resource['meta']['versionId']}"


def _entry_response(status: str, resource: dict) -> dict:
    return {
        "response": {
            "status": status,
            "location": _location(resource),
            "etag": _etag(resource),
            "lastModified": resource["meta"]["lastUpdated"],
        }
    }


def _content(resource: dict) -> dict:
    return {key: value for key, value in resource.items() if key != "meta"}


def _split_url(url: str) -> tuple[str, str | None]:
    path = url.split("?", 1)[0].strip("/")
    resource_type, _, resource_id = path.partition("/")
    return resource_type, resource_id or None


def _version_of_etag(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


class FhirServer:
    def __init__(self, store: ResourceStore):
        self.store = store
        self.transactions_committed = 0

    # searches ----------------------------------------------------------------------------------

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> list[dict]:
        """Matches for the parameters we understand; an unknown parameter is an error, not ignored.
        A comma in a value means "any of these"."""
        candidates: list[dict] | None = None
        filters = []
        for name, value in params:
            if name in ("_include", "_revinclude", "_revinclude:iterate", "_count", "_offset", "_format"):
                continue
            if name == "identifier":
                system, sep, ident = value.rpartition("|")
                ids = self.store.ids_by_identifier(resource_type, system if sep else None, ident)
                found = [r for r in (self.store.read(resource_type, i) for i in ids) if r]
                candidates = found if candidates is None else [r for r in candidates if r in found]
            elif name == "_id":
                filters.append(lambda r, v=set(value.split(",")): r["id"] in v)
            elif name == "date" and resource_type == "Appointment":
                filters.append(_date_filter(value))
            elif name in ("patient", "subject", "beneficiary", "actor"):
                filters.append(lambda r, v=value.split(","): any(t.endswith(x) for t in _reference_targets(r) for x in v))
            elif name in APPOINTMENT_ACTORS and resource_type == "Appointment":
                kind = APPOINTMENT_ACTORS[name]
                wanted = {x if "/" in x else f"{kind}/{x}" for x in value.split(",")}
                filters.append(lambda r, w=wanted: bool(_reference_targets(r.get("participant", [])) & w))
            elif name == "status":
                filters.append(lambda r, v=set(value.split(",")): r.get("status") in v)
            else:
                raise FhirError(400, "not-supported", f"search parameter {name} is not supported")
        if candidates is None:
            candidates = self.store.all_of(resource_type)
        return [r for r in candidates if all(f(r) for f in filters)]

    def search_bundle(self, resource_type: str, params: list[tuple[str, str]], base: str) -> dict:
        """A searchset; with `_count`, one page of it and a `next` link (`_offset`) while more remain."""
        with self.store.lock:
            everything = self.search(resource_type, params)
            offset = _int_param(params, "_offset", 0)
            count = _int_param(params, "_count", len(everything) or 1)
            matches = everything[offset : offset + count]
            included: dict[str, dict] = {}
            for name, value in params:
                if name == "_include" and value == f"{resource_type}:patient":
                    for match in matches:
                        for target in _reference_targets(match.get("participant", [])) | _reference_targets(
                            match.get("subject", {})
                        ):
                            kind, _, ident = target.partition("/")
                            if kind == "Patient" and (patient := self.store.read("Patient", ident)):
                                included[f"Patient/{ident}"] = patient
            patient_refs = {key for key in included} | {
                f"Patient/{m['id']}" for m in matches if m["resourceType"] == "Patient"
            }
            for name, value in params:
                if name in ("_revinclude", "_revinclude:iterate") and value in PATIENT_REVINCLUDES:
                    kind, field = value.split(":")
                    for resource in self.store.all_of(kind):
                        if resource.get(field, {}).get("reference") in patient_refs:
                            included[f"{kind}/{resource['id']}"] = resource
        entries = [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in matches
        ] + [
            {"fullUrl": f"{base}/{key}", "resource": r, "search": {"mode": "include"}} for key, r in included.items()
        ]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(everything), "entry": entries}
        if offset + count < len(everything):
            following = [(k, v) for k, v in params if k != "_offset"] + [("_offset", str(offset + count))]
            bundle["link"] = [{"relation": "next", "url": f"{base}/{resource_type}?{urllib.parse.urlencode(following)}"}]
        return bundle

    # single interactions (callers hold the lock and run inside a transaction) ------------------

    def _create(self, resource: dict, if_none_exist: str | None) -> tuple[str, dict]:
        if if_none_exist:
            params = urllib.parse.parse_qsl(if_none_exist, keep_blank_values=True)
            existing = self.search(resource["resourceType"], params)
            if len(existing) > 1:
                raise FhirError(412, "duplicate", f"ifNoneExist matched {len(existing)} resources")
            if existing:
                return "200 OK", existing[0]
        return "201 Created", self.store.save(resource, uuid.uuid4().hex)

    def _update(self, resource_type: str, resource_id: str, resource: dict, if_match: str | None) -> tuple[str, dict]:
        if resource.get("id") not in (None, resource_id):
            raise FhirError(400, "invalid", "resource id does not match the URL")
        current = self.store.read(resource_type, resource_id)
        if if_match and (current is None or _version_of_etag(if_match) != current["meta"]["versionId"]):
            raise FhirError(412, "conflict", "If-Match does not name the current version")
        if current is not None and _content(current) == _content({**resource, "id": resource_id}):
            return "200 OK", current  # a replayed PUT changes nothing and makes no new version
        return ("200 OK" if current else "201 Created"), self.store.save(resource, resource_id)

    def _patch(self, resource_type: str, resource_id: str, patch: list, if_match: str | None) -> tuple[str, dict]:
        current = self.store.read(resource_type, resource_id)
        if current is None:
            raise FhirError(404, "not-found", f"{resource_type}/{resource_id} does not exist")
        if if_match and _version_of_etag(if_match) != current["meta"]["versionId"]:
            raise FhirError(412, "conflict", "If-Match does not name the current version")
        try:
            patched = jsonpatch.apply_patch(current, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as exc:
            raise FhirError(422, "processing", f"JSON Patch failed: {exc}")
        patched.pop("meta", None)
        validated(patched, resource_type)
        if patched == _content(current):  # a replayed patch changes nothing and makes no new version
            return "200 OK", current
        return "200 OK", self.store.save(patched, resource_id)

    # transactions ------------------------------------------------------------------------------

    def transaction(self, bundle: dict) -> dict:
        validated_bundle(bundle)
        if bundle.get("type") != "transaction":
            raise FhirError(400, "not-supported", "only transaction Bundles are accepted at the base")
        entries = bundle.get("entry", [])
        for entry in entries:
            if "request" not in entry:
                raise FhirError(400, "required", "every transaction entry needs a request")
        order = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 3, "GET": 4}
        results: list[dict] = [{} for _ in entries]
        resolved: dict[str, str] = {}
        with self.store.lock:
            self.store.conn.execute("BEGIN IMMEDIATE")
            try:
                for index in sorted(range(len(entries)), key=lambda i: order.get(entries[i]["request"]["method"], 9)):
                    results[index] = self._transaction_entry(entries[index], resolved)
                self.store.conn.execute("COMMIT")
                self.transactions_committed += 1
            except BaseException:
                self.store.conn.execute("ROLLBACK")
                raise
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": results}

    def _transaction_entry(self, entry: dict, resolved: dict[str, str]) -> dict:
        request = entry["request"]
        method = request["method"]
        resource_type, resource_id = _split_url(request["url"])
        resource = _references(entry.get("resource"), resolved) if "resource" in entry else None
        if method == "POST":
            if resource is None or resource.get("resourceType") != resource_type:
                raise FhirError(400, "invalid", f"POST {request['url']} needs a {resource_type} resource")
            status, stored = self._create(resource, request.get("ifNoneExist"))
            if entry.get("fullUrl"):
                resolved[entry["fullUrl"]] = f"{resource_type}/{stored['id']}"
            return _entry_response(status, stored)
        if method == "PUT" and resource_id:
            status, stored = self._update(resource_type, resource_id, resource or {}, request.get("ifMatch"))
            return _entry_response(status, stored)
        if method == "PATCH" and resource_id:
            if not resource or resource.get("resourceType") != "Binary":
                raise FhirError(400, "invalid", "a PATCH entry carries its JSON Patch in a Binary")
            if resource.get("contentType") != "application/json-patch+json":
                raise FhirError(400, "not-supported", "only application/json-patch+json is supported")
            patch = json.loads(base64.b64decode(resource.get("data", "")))
            status, stored = self._patch(resource_type, resource_id, patch, request.get("ifMatch"))
            return _entry_response(status, stored)
        if method == "GET" and resource_id:
            found = self.store.read(resource_type, resource_id)
            if found is None:
                raise FhirError(404, "not-found", f"{resource_type}/{resource_id} does not exist")
            return {"resource": found, "response": {"status": "200 OK", "etag": _etag(found)}}
        raise FhirError(400, "not-supported", f"{method} {request['url']} is not supported in a transaction")

    def create(self, resource: dict, if_none_exist: str | None) -> tuple[str, dict]:
        with self.store.lock:
            self.store.conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._create(resource, if_none_exist)
                self.store.conn.execute("COMMIT")
                return result
            except BaseException:
                self.store.conn.execute("ROLLBACK")
                raise

    def update(self, resource_type: str, resource_id: str, resource: dict, if_match: str | None) -> tuple[str, dict]:
        with self.store.lock:
            self.store.conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._update(resource_type, resource_id, resource, if_match)
                self.store.conn.execute("COMMIT")
                return result
            except BaseException:
                self.store.conn.execute("ROLLBACK")
                raise

    def patch(self, resource_type: str, resource_id: str, patch: list, if_match: str | None) -> tuple[str, dict]:
        with self.store.lock:
            self.store.conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._patch(resource_type, resource_id, patch, if_match)
                self.store.conn.execute("COMMIT")
                return result
            except BaseException:
                self.store.conn.execute("ROLLBACK")
                raise
