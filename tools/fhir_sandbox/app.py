"""The HTTP app: FHIR routes, the control API, and `python -m tools.fhir_sandbox`."""

from __future__ import annotations

import argparse
import json
import ssl
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from .faults import FHIR_JSON, Fault, FaultInjector, TransportInScope
from .modes import SandboxMode
from .outcomes import FhirError, now_instant, validated
from .server import FhirServer, _etag, _location
from .storage import ResourceStore


def fhir_response(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=FHIR_JSON, headers=headers)


async def json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise FhirError(400, "structure", "body is not JSON")


def build_app(data: Path | str, mode: SandboxMode = SandboxMode()) -> FaultInjector:
    server = FhirServer(ResourceStore(data))
    searches: list[dict] = []  # every search and what it returned (Type/id), for tests of data scoping
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

    @app.get("/_control/searches")
    async def search_log() -> Response:
        return fhir_response({"searches": searches})

    @app.post("/_control/reset")
    async def reset() -> Response:
        searches.clear()
        server.store.clear()
        injector.faults.clear()
        injector.requests.clear()
        server.transactions_committed = 0
        return fhir_response({"reset": True})

    # FHIR API ------------------------------------------------------------------------------------

    @app.get("/metadata")
    async def capability_statement() -> Response:
        return fhir_response(mode.capability_statement())

    @app.post("/")
    async def transaction(request: Request) -> Response:
        bundle = await json_body(request)
        mode.admit_transaction(bundle if isinstance(bundle, dict) else {})
        return fhir_response(server.transaction(bundle))

    @app.get("/{resource_type}")
    async def search(resource_type: str, request: Request) -> Response:
        params = list(request.query_params.multi_items())
        bundle = server.search_bundle(resource_type, params, base_of(request))
        returned = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
        searches.append({"url": f"{resource_type}?{request.url.query}", "returned": returned})
        return fhir_response(bundle)

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
    parser.add_argument("--auth-server", help="require bearer tokens this OAuth server (tools/oauth_server.py) issued")
    parser.add_argument("--auth-secret", default="", help="the sandbox's introspection secret at --auth-server")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM) ...")
    parser.add_argument("--tls-key", help="... and key")
    parser.add_argument("--tls-client-ca", help="require a client certificate issued by this CA (mutual TLS)")
    parser.add_argument("--max-transaction-entries", type=int, default=None, metavar="N",
                        help="refuse a transaction with a conditional create above N entries (as Medplum does above 8)")
    parser.add_argument("--no-transactions", action="store_true", help="offer no transactions (POST of a Bundle: 405)")
    args = parser.parse_args(argv)
    mode = SandboxMode(transactions=not args.no_transactions, max_transaction_entries=args.max_transaction_entries)
    app = build_app(args.data, mode)
    if args.auth_server:
        from .auth import TokenGate

        app = TokenGate(app, args.auth_server, "fhir-sandbox", args.auth_secret)
    tls = {}
    if args.tls_cert:
        tls = {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
    if args.tls_client_ca:
        tls |= {"ssl_ca_certs": args.tls_client_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    config = uvicorn.Config(
        app, host=args.host, port=args.port, http=TransportInScope, log_level="warning",
        access_log=False, lifespan="off", **tls,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
