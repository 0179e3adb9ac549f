"""A FHIR R4 server of our own: the "central system" for tests, the benchmark and the demo.

It validates every resource it receives with `fhir.resources.R4B` (400 + OperationOutcome when invalid),
applies transaction Bundles atomically, supports conditional create (`ifNoneExist` / `If-None-Exist`),
JSON Patch, PUT with `If-Match`, versionId/ETag, and the searches the agent uses. A control API under
`/_control` seeds resources, counts them by identifier (to prove exactly-once) and injects failures:
the next N requests answer a status (500, 429 with Retry-After, 400 with an OperationOutcome), hang past
the client's timeout (and then still commit, the worst case for duplicates), or reset the connection.

    python -m tools.fhir_sandbox --port 8480 --data /tmp/central.sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import socket
import sqlite3
import struct
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonpatch
import uvicorn
from fastapi import FastAPI, Request, Response
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FHIR_JSON = "application/fhir+json"
TRANSPORT_KEY = "fhir_sandbox.transport"


# --- errors and outcomes -------------------------------------------------------------------------


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


# --- storage -------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS identifiers (
    type TEXT NOT NULL, id TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identifiers_lookup ON identifiers(type, system, value);
CREATE INDEX IF NOT EXISTS identifiers_owner ON identifiers(type, id);
"""


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


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class ResourceStore:
    """Versioned resources in SQLite. Callers hold `lock` for anything that must be atomic."""

    def __init__(self, path: Path | str):
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()

    def read(self, resource_type: str, resource_id: str) -> dict | None:
        row = self.conn.execute(
            "SELECT body FROM resources WHERE type = ? AND id = ?", (resource_type, resource_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def all_of(self, resource_type: str) -> list[dict]:
        rows = self.conn.execute("SELECT body FROM resources WHERE type = ? ORDER BY rowid", (resource_type,))
        return [json.loads(row[0]) for row in rows]

    def ids_by_identifier(self, resource_type: str, system: str | None, value: str) -> list[str]:
        if system is None:
            rows = self.conn.execute("SELECT id FROM identifiers WHERE type = ? AND value = ?", (resource_type, value))
        else:
            # without the hint SQLite prefers identifiers_owner and scans every identifier of the type
            rows = self.conn.execute(
                "SELECT id FROM identifiers INDEXED BY identifiers_lookup WHERE type = ? AND system = ? AND value = ?",
                (resource_type, system, value),
            )
        return list(dict.fromkeys(row[0] for row in rows))

    def save(self, resource: dict, resource_id: str) -> dict:
        """Store a new version (or the first one) of a resource; returns what was stored."""
        resource_type = resource["resourceType"]
        row = self.conn.execute(
            "SELECT version FROM resources WHERE type = ? AND id = ?", (resource_type, resource_id)
        ).fetchone()
        version = 1 if row is None else row[0] + 1
        stored = {**resource, "id": resource_id}
        stored["meta"] = {**resource.get("meta", {}), "versionId": str(version), "lastUpdated": now_instant()}
        self.conn.execute(
            "INSERT INTO resources(type, id, version, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(type, id) DO UPDATE SET version = excluded.version, body = excluded.body",
            (resource_type, resource_id, version, json.dumps(stored, separators=(",", ":"))),
        )
        self.conn.execute("DELETE FROM identifiers WHERE type = ? AND id = ?", (resource_type, resource_id))
        self.conn.executemany(
            "INSERT INTO identifiers(type, id, system, value) VALUES (?, ?, ?, ?)",
            [
                (resource_type, resource_id, ident.get("system", ""), ident["value"])
                for ident in _as_list(resource.get("identifier"))
                if isinstance(ident, dict) and "value" in ident
            ],
        )
        return stored

    def identifier_counts(self, resource_type: str, system: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT value, COUNT(DISTINCT id) FROM identifiers WHERE type = ? AND system = ? GROUP BY value",
            (resource_type, system),
        )
        return dict(rows.fetchall())

    def type_counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT type, COUNT(*) FROM resources GROUP BY type").fetchall())

    def clear(self) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM resources")
            self.conn.execute("DELETE FROM identifiers")


# --- the FHIR interactions -----------------------------------------------------------------------


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
        """Matches for the parameters we understand; an unknown parameter is an error, not ignored."""
        candidates: list[dict] | None = None
        filters = []
        for name, value in params:
            if name in ("_include", "_revinclude", "_revinclude:iterate", "_count", "_format"):
                continue
            if name == "identifier":
                system, sep, ident = value.rpartition("|")
                ids = self.store.ids_by_identifier(resource_type, system if sep else None, ident)
                found = [r for r in (self.store.read(resource_type, i) for i in ids) if r]
                candidates = found if candidates is None else [r for r in candidates if r in found]
            elif name == "_id":
                filters.append(lambda r, v=value: r["id"] == v)
            elif name == "date" and resource_type == "Appointment":
                filters.append(lambda r, v=value: r.get("start", "")[:10] == v.removeprefix("eq"))
            elif name in ("patient", "subject", "beneficiary", "actor"):
                filters.append(lambda r, v=value: any(t.endswith(v) for t in _reference_targets(r)))
            elif name == "status":
                filters.append(lambda r, v=value: r.get("status") == v)
            else:
                raise FhirError(400, "not-supported", f"search parameter {name} is not supported")
        if candidates is None:
            candidates = self.store.all_of(resource_type)
        return [r for r in candidates if all(f(r) for f in filters)]

    def search_bundle(self, resource_type: str, params: list[tuple[str, str]], base: str) -> dict:
        with self.store.lock:
            matches = self.search(resource_type, params)
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
            for name, value in params:
                if name in ("_revinclude", "_revinclude:iterate") and value == "Coverage:beneficiary":
                    patient_refs = {key for key in included} | {
                        f"Patient/{m['id']}" for m in matches if m["resourceType"] == "Patient"
                    }
                    for coverage in self.store.all_of("Coverage"):
                        if coverage.get("beneficiary", {}).get("reference") in patient_refs:
                            included[f"Coverage/{coverage['id']}"] = coverage
        entries = [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in matches
        ] + [
            {"fullUrl": f"{base}/{key}", "resource": r, "search": {"mode": "include"}} for key, r in included.items()
        ]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(matches), "entry": entries}

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


# --- failure injection ---------------------------------------------------------------------------


@dataclass
class Fault:
    """What the next `count` matching requests get instead of a normal answer."""

    mode: str  # "status" | "hang" | "reset"
    count: int = 1
    status: int = 500
    retry_after: str | None = None
    diagnostics: str = "injected failure"
    hang_s: float = 30.0
    methods: list[str] = field(default_factory=lambda: ["POST", "PUT", "PATCH", "GET", "DELETE"])


class FaultInjector:
    """ASGI middleware in front of the FHIR API (never in front of /_control)."""

    def __init__(self, app):
        self.app = app
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {}

    def take(self, method: str) -> Fault | None:
        for fault in self.faults:
            if method in fault.methods and fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_control"):
            return await self.app(scope, receive, send)
        method = scope["method"]
        self.requests[method] = self.requests.get(method, 0) + 1
        fault = self.take(method)
        if fault is None:
            return await self.app(scope, receive, send)
        if fault.mode == "hang":
            return await self._hang(fault.hang_s, scope, receive, send)
        if fault.mode == "reset":
            transport = scope.get(TRANSPORT_KEY)
            sock = transport.get_extra_info("socket") if transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if transport is not None:
                transport.abort()
            return
        body = json.dumps(operation_outcome("transient" if fault.status >= 500 else "invalid", fault.diagnostics))
        headers = [(b"content-type", FHIR_JSON.encode())]
        if fault.retry_after is not None:
            headers.append((b"retry-after", fault.retry_after.encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})


    async def _hang(self, seconds: float, scope, receive, send) -> None:
        """Take the whole request, answer nothing for `seconds`, then process it anyway: the client has
        long given up and will send it again, while this one still commits."""
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body, more = body + message.get("body", b""), message.get("more_body", False)
        await asyncio.sleep(seconds)
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class TransportInScope(HttpToolsProtocol):
    """uvicorn's protocol, handing the connection's transport to the app so a fault can reset it."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[TRANSPORT_KEY] = self.transport  # type: ignore[literal-required]


# --- the HTTP app --------------------------------------------------------------------------------


def fhir_response(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=FHIR_JSON, headers=headers)


async def json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise FhirError(400, "structure", "body is not JSON")


def build_app(data: Path | str) -> FaultInjector:
    server = FhirServer(ResourceStore(data))
    app = FastAPI(title="FHIR R4 sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    injector = FaultInjector(app)
    app.state.server = server

    @app.exception_handler(FhirError)
    async def _fhir_error(_request: Request, exc: FhirError) -> Response:
        return fhir_response(exc.outcome, exc.status)

    def base_of(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # control API ---------------------------------------------------------------------------------

    @app.post("/_control/seed")
    async def seed(request: Request) -> Response:
        resources = (await json_body(request)).get("resources", [])
        for resource in resources:
            validated(resource)
            server.update(resource["resourceType"], resource["id"], resource, None)
        return fhir_response({"stored": len(resources)})

    @app.post("/_control/faults")
    async def add_fault(request: Request) -> Response:
        injector.faults.append(Fault(**await json_body(request)))
        return fhir_response({"faults": len(injector.faults)})

    @app.delete("/_control/faults")
    async def clear_faults() -> Response:
        injector.faults.clear()
        return fhir_response({"faults": 0})

    @app.get("/_control/identifiers")
    async def identifier_counts(type: str, system: str) -> Response:
        with server.store.lock:
            return fhir_response({"counts": server.store.identifier_counts(type, system)})

    @app.get("/_control/stats")
    async def stats() -> Response:
        with server.store.lock:
            counts = server.store.type_counts()
        return fhir_response(
            {
                "resources": counts, "requests": injector.requests, "transactions": server.transactions_committed,
                "faults_pending": sum(f.count for f in injector.faults),
            }
        )

    @app.post("/_control/reset")
    async def reset() -> Response:
        server.store.clear()
        injector.faults.clear()
        injector.requests.clear()
        server.transactions_committed = 0
        return fhir_response({"reset": True})

    # FHIR API ------------------------------------------------------------------------------------

    @app.get("/metadata")
    async def capability_statement() -> Response:
        return fhir_response(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": now_instant()[:10],
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "patchFormat": ["application/json-patch+json"],
            }
        )

    @app.post("/")
    async def transaction(request: Request) -> Response:
        return fhir_response(server.transaction(await json_body(request)))

    @app.get("/{resource_type}")
    async def search(resource_type: str, request: Request) -> Response:
        params = list(request.query_params.multi_items())
        return fhir_response(server.search_bundle(resource_type, params, base_of(request)))

    @app.get("/{resource_type}/{resource_id}")
    async def read(resource_type: str, resource_id: str) -> Response:
        with server.store.lock:
            found = server.store.read(resource_type, resource_id)
        if found is None:
            raise FhirError(404, "not-found", f"{resource_type}/{resource_id} does not exist")
        return fhir_response(found, headers={"ETag": _etag(found)})

    @app.post("/{resource_type}")
    async def create(resource_type: str, request: Request) -> Response:
        resource = validated(await json_body(request), resource_type)
        status, stored = server.create(resource, request.headers.get("if-none-exist"))
        return fhir_response(
            stored, int(status[:3]), headers={"ETag": _etag(stored), "Location": _location(stored)}
        )

    @app.put("/{resource_type}/{resource_id}")
    async def update(resource_type: str, resource_id: str, request: Request) -> Response:
        resource = validated(await json_body(request), resource_type)
        status, stored = server.update(resource_type, resource_id, resource, request.headers.get("if-match"))
        return fhir_response(stored, int(status[:3]), headers={"ETag": _etag(stored)})

    @app.patch("/{resource_type}/{resource_id}")
    async def patch(resource_type: str, resource_id: str, request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/json-patch+json":
            raise FhirError(415, "not-supported", "send application/json-patch+json")
        status, stored = server.patch(
            resource_type, resource_id, await json_body(request), request.headers.get("if-match")
        )
        return fhir_response(stored, int(status[:3]), headers={"ETag": _etag(stored)})

    return injector


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="FHIR R4 sandbox server (the central system for tests and demo)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8480)
    parser.add_argument("--data", default=":memory:", help="SQLite file (default: in memory)")
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        build_app(args.data), host=args.host, port=args.port, http=TransportInScope, log_level="warning",
        access_log=False, lifespan="off",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
