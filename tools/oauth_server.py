"""An OAuth 2.0 authorization server for SMART Backend Services, built on authlib: the EHR's token
endpoint for tests and the demo.

authlib does the protocol: the client-credentials grant (RFC 6749 4.4), client authentication with a
signed JWT assertion (RFC 7523, `private_key_jwt`: signature by the client's registered JWKS, `aud`,
`exp`, `iss` = `sub`, `jti` replay), token introspection (RFC 7662) for the resource server, and the
metadata document (RFC 8414). On top, SMART's rule that an assertion expires at most 5 minutes ahead.

    python -m tools.oauth_server --port 8490 --introspection-secret S

Control API (`/_control`): register a client with its JWKS and allowed scopes, set the token lifetime
or the advertised auth methods, revoke a client's tokens, and read counters (token requests, tokens
issued, refusals with their error, introspections).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from dataclasses import dataclass, field

import uvicorn
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_ASSERTION_LIFETIME_S = 300  # SMART Backend Services: exp no more than five minutes in the future
SIGNING_ALGS = ["ES384", "RS384"]
RESOURCE_SERVER = "fhir-sandbox"


@dataclass
class Client(ClientMixin):
    client_id: str
    scope: str = ""
    jwks: dict | None = None  # private_key_jwt clients
    secret: str = ""  # the resource server (introspection, client_secret_basic)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.secret) and secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.jwks is not None:
            return method == "private_key_jwt" and endpoint == "token"
        return method == "client_secret_basic" and endpoint == "introspection"

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return self.jwks is not None and grant_type == "client_credentials"


@dataclass
class IssuedToken(TokenMixin):
    access_token: str
    client_id: str
    scope: str
    issued_at: int
    expires_in: int
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class ServerState:
    token_url: str
    issuer: str
    expires_in: int = 300
    auth_methods: list[str] = field(default_factory=lambda: ["private_key_jwt"])
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    seen_jti: set[tuple[str, str]] = field(default_factory=set)
    token_requests: int = 0
    introspections: int = 0
    refusals: list[dict] = field(default_factory=list)


class FormPayload(OAuth2Payload):
    def __init__(self, form: dict[str, str]):
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return self._form

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {key: [value] for key, value in self._form.items()}


class FormRequest(OAuth2Request):
    """A Starlette request whose form was already read (authlib's code is synchronous)."""

    def __init__(self, request: Request, form: dict[str, str]):
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._form = form
        self.payload = FormPayload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class SmartPrivateKeyJwt(JWTBearerClientAssertion):
    """`private_key_jwt` client authentication, with SMART's ES384/RS384 and 5-minute limits."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, state: ServerState):
        super().__init__(validate_jti=True, leeway=5)
        self.state = state

    def get_audiences(self) -> list[str]:
        return [self.state.token_url]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        return KeySet.import_key_set(client.jwks or {"keys": []})

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=SIGNING_ALGS)
        except (JoseError, ValueError) as exc:  # an unknown kid is a ValueError in joserfc
            raise InvalidClientError(description=f"assertion not verified: {exc}") from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: jwt.Claims) -> None:
        super().verify_claims(claims)
        if float(claims["exp"]) > time.time() + MAX_ASSERTION_LIFETIME_S:
            raise InvalidClientError(description="assertion exp is more than 5 minutes in the future")

    def validate_jti(self, claims: jwt.Claims, jti: str) -> bool:
        key = (claims["sub"], jti)
        if key in self.state.seen_jti:
            return False
        self.state.seen_jti.add(key)
        return True


class SmartClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic"]

    def __init__(self, server: "TokenServer"):
        super().__init__(server)
        self.state = server.state

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return self.state.tokens.get(token_string)

    def check_permission(self, token: IssuedToken, client: Client, request) -> bool:
        return client.client_id == RESOURCE_SERVER

    def introspect_token(self, token: IssuedToken) -> dict:
        return {
            "active": True, "client_id": token.client_id, "token_type": "Bearer", "scope": token.scope,
            "sub": token.client_id, "iss": self.state.issuer, "iat": token.issued_at,
            "exp": token.issued_at + token.expires_in,
        }  # fmt: skip


class TokenServer(AuthorizationServer):
    def __init__(self, state: ServerState):
        super().__init__()
        self.state = state
        self.register_grant(SmartClientCredentials)
        self.register_client_auth_method("private_key_jwt", SmartPrivateKeyJwt(state))
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(32),
                expires_generator=lambda client, grant_type: state.expires_in,
            ),
        )
        self.register_endpoint(Introspection(self))

    def query_client(self, client_id: str) -> Client | None:
        return self.state.clients.get(client_id)

    def save_token(self, token: dict, request: OAuth2Request) -> None:
        self.state.tokens[token["access_token"]] = IssuedToken(
            token["access_token"], request.client.get_client_id(), token.get("scope", ""), int(time.time()),
            int(token["expires_in"]),
        )  # fmt: skip

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: dict, headers) -> Response:
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def send_signal(self, name, *args, **kwargs) -> None:
        pass


def build_app(state: ServerState, introspection_secret: str) -> Starlette:
    state.clients[RESOURCE_SERVER] = Client(RESOURCE_SERVER, secret=introspection_secret)
    server = TokenServer(state)

    async def form_of(request: Request) -> dict[str, str]:
        return {key: str(value) for key, value in (await request.form()).items()}

    async def token(request: Request) -> Response:
        state.token_requests += 1
        response = server.create_token_response(FormRequest(request, await form_of(request)))
        if response.status_code != 200:
            state.refusals.append(json.loads(response.body))
        return response

    async def introspect(request: Request) -> Response:
        state.introspections += 1
        return server.create_endpoint_response("introspection", FormRequest(request, await form_of(request)))

    async def metadata(_request: Request) -> Response:
        return JSONResponse({
            "issuer": state.issuer,
            "token_endpoint": state.token_url,
            "token_endpoint_auth_methods_supported": state.auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
            "grant_types_supported": ["client_credentials"],
            "introspection_endpoint": f"{state.issuer}/introspect",
        })  # fmt: skip

    async def register_client(request: Request) -> Response:
        body = await request.json()
        KeySet.import_key_set(body["jwks"])  # refuse a JWKS that does not parse
        state.clients[body["client_id"]] = Client(body["client_id"], scope=body.get("scope", ""), jwks=body["jwks"])
        return JSONResponse({"registered": body["client_id"], "keys": len(body["jwks"]["keys"])})

    async def settings(request: Request) -> Response:
        body = await request.json()
        state.expires_in = int(body.get("expires_in", state.expires_in))
        state.auth_methods = list(body.get("auth_methods", state.auth_methods))
        return JSONResponse({"expires_in": state.expires_in, "auth_methods": state.auth_methods})

    async def revoke(request: Request) -> Response:
        client_id = (await request.json())["client_id"]
        revoked = 0
        for issued in state.tokens.values():
            if issued.client_id == client_id and not issued.revoked:
                issued.revoked, revoked = True, revoked + 1
        return JSONResponse({"revoked": revoked})

    async def stats(_request: Request) -> Response:
        return JSONResponse({
            "token_requests": state.token_requests, "tokens_issued": len(state.tokens),
            "introspections": state.introspections, "refusals": state.refusals,
        })  # fmt: skip

    return Starlette(routes=[
        Route("/token", token, methods=["POST"]),
        Route("/introspect", introspect, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", metadata),
        Route("/_control/clients", register_client, methods=["POST"]),
        Route("/_control/settings", settings, methods=["POST"]),
        Route("/_control/revoke", revoke, methods=["POST"]),
        Route("/_control/stats", stats),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OAuth 2.0 authorization server for SMART Backend Services (authlib)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8490)
    parser.add_argument("--introspection-secret", required=True, help=f"client secret of {RESOURCE_SERVER!r}")
    parser.add_argument("--expires-in", type=int, default=300, help="access token lifetime in seconds")
    args = parser.parse_args(argv)
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain HTTP on loopback in tests
    issuer = f"http://{args.host}:{args.port}"
    state = ServerState(token_url=f"{issuer}/token", issuer=issuer, expires_in=args.expires_in)
    uvicorn.run(build_app(state, args.introspection_secret), host=args.host, port=args.port, log_level="warning",
                access_log=False, lifespan="off")  # fmt: skip


if __name__ == "__main__":
    main()
