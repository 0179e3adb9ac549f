"""Optional access control in front of the FHIR API, as a SMART-protected EHR does it.

`TokenGate` asks the authorization server (tools/oauth_server.py) about every bearer token by
introspection (RFC 7662), so a revoked or expired token is refused at once: 401 with
`WWW-Authenticate: Bearer error="invalid_token"`. An active token must also carry the SMART scopes of
the interaction (read, search, create, update, delete per resource type; every entry of a transaction),
else 403. `/metadata` and `/.well-known/smart-configuration` (from the authorization server's RFC 8414
metadata) stay public; `GET /_control/auth` counts what the gate decided.
"""

from __future__ import annotations

import json
import urllib.parse

import httpx

from .outcomes import operation_outcome

FHIR_JSON = "application/fhir+json"
PUBLIC_PATHS = ("/metadata", "/.well-known/smart-configuration")
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
METHOD_PERMISSION = {"POST": "c", "PUT": "u", "PATCH": "u", "DELETE": "d"}


def granted(scope: str) -> dict[str, set[str]]:
    """{"Patient": {"r", "s"}, "*": {...}} from SMART v1 (`.read`) and v2 (`.rs`) system scopes."""
    grants: dict[str, set[str]] = {}
    for item in scope.split():
        context, _, rest = item.partition("/")
        resource_type, _, permissions = rest.partition(".")
        if context != "system" or not resource_type:
            continue
        letters = V1_PERMISSIONS.get(permissions, permissions.split("?")[0])
        grants.setdefault(resource_type, set()).update(letters)
    return grants


def _interaction(method: str, url: str) -> list[tuple[str, str]]:
    """(resource type, permission) pairs a request needs."""
    path, _, query = url.partition("?")
    parts = [part for part in path.strip("/").split("/") if part]
    if not parts:
        return []
    resource_type = parts[0]
    if method == "GET":
        if len(parts) > 1:
            return [(resource_type, "r")]
        needed = [(resource_type, "s")]
        for name, value in urllib.parse.parse_qsl(query):
            source, _, parameter = value.partition(":")
            if name.startswith("_include") and parameter:
                needed.append((parameter.split(":")[0].capitalize(), "r"))
            elif name.startswith("_revinclude") and source:
                needed.append((source, "r"))
        return needed
    return [(resource_type, METHOD_PERMISSION.get(method, "?"))]


def needed_permissions(method: str, path: str, query: str, body: bytes) -> list[tuple[str, str]]:
    if method == "POST" and path.strip("/") == "":
        try:
            entries = json.loads(body).get("entry", [])
        except (ValueError, AttributeError):
            return []  # the FHIR API answers 400 for it
        return [
            pair
            for entry in entries if isinstance(entry, dict) and isinstance(entry.get("request"), dict)
            for pair in _interaction(entry["request"].get("method", ""), entry["request"].get("url", ""))
        ]  # fmt: skip
    return _interaction(method, f"{path}?{query}")


class TokenGate:
    """ASGI middleware: bearer tokens checked by introspection at `auth_server`, scopes per interaction."""

    def __init__(self, app, auth_server: str, client_id: str, secret: str):
        self.app = app
        self.auth_server = auth_server.rstrip("/")
        self.credentials = (client_id, secret)
        self.client = httpx.AsyncClient(timeout=10)
        self.counts = {"authorized": 0, "unauthorized": 0, "forbidden": 0}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or (scope["path"].startswith("/_control/") and scope["path"] != "/_control/auth"):
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path == "/_control/auth":
            return await self._answer(send, 200, self.counts, "application/json")
        if path == "/.well-known/smart-configuration":
            return await self._answer(send, 200, await self._smart_configuration(), "application/json")
        if path in PUBLIC_PATHS:
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = dict(scope["headers"])
        kind, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        introspected = await self._introspect(token) if kind.lower() == "bearer" and token else {"active": False}
        if not introspected.get("active"):
            self.counts["unauthorized"] += 1
            return await self._answer(
                send, 401, operation_outcome("login", "a valid access token is required"), FHIR_JSON,
                [(b"www-authenticate", b'Bearer error="invalid_token"')],
            )  # fmt: skip
        grants = granted(introspected.get("scope", ""))
        query = scope.get("query_string", b"").decode("latin-1")
        missing = sorted({
            f"{resource_type}.{permission}"
            for resource_type, permission in needed_permissions(scope["method"], path, query, body)
            if permission not in grants.get(resource_type, set()) | grants.get("*", set())
        })  # fmt: skip
        if missing:
            self.counts["forbidden"] += 1
            return await self._answer(
                send, 403, operation_outcome("forbidden", f"scope lacks {' '.join(missing)}"), FHIR_JSON,
                [(b"www-authenticate", b'Bearer error="insufficient_scope"')],
            )  # fmt: skip
        self.counts["authorized"] += 1
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _introspect(self, token: str) -> dict:
        response = await self.client.post(f"{self.auth_server}/introspect", data={"token": token}, auth=self.credentials)
        response.raise_for_status()
        return response.json()

    async def _smart_configuration(self) -> dict:
        metadata = (await self.client.get(f"{self.auth_server}/.well-known/oauth-authorization-server")).json()
        return {
            **{key: metadata[key] for key in metadata if key.startswith(("token_endpoint", "grant_types", "issuer"))},
            "capabilities": ["client-confidential-asymmetric"],
        }

    @staticmethod
    async def _answer(send, status: int, body: dict, media_type: str, headers: list | None = None) -> None:
        await send({
            "type": "http.response.start", "status": status,
            "headers": [(b"content-type", media_type.encode()), *(headers or [])],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})
