"""SMART Backend Services: OAuth 2.0 client credentials with a signed JWT client assertion.

    auth = SmartBackendAuth(TokenSource(central, KeyRing(key_dir), token_client))
    httpx.AsyncClient(base_url=..., auth=auth)   # every request carries a current access token

The token source signs an assertion (header alg ES384/RS384, kid, typ JWT; iss = sub = client id,
aud = token URL, a fresh jti, exp 4 minutes ahead), posts the client-credentials grant, and caches the
access token until shortly before it expires. The token URL is `central.token_url`, else discovered
from `[base]/.well-known/smart-configuration`. A 401 from the FHIR server gets exactly one new token and
one retry. Keys are tried newest first: a key the EHR does not know yet (`invalid_client`) falls back to
the previous one, so rotation never interrupts delivery.

Every failure is a `CentralAuthError`, an `httpx.TransportError`: the connector treats it like central
being unreachable, so the check-in waits in the outbox with the normal backoff and is never dead-lettered.
`permanent` tells a configuration problem (wrong key, unknown client, scope refused) from an outage.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import AsyncGenerator, Generator

import httpx
from joserfc import jwt

from ..config import CentralSection
from .smart_keys import SIGNING_ALGS, KeyRing, KeyRingError, SigningKey

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 240  # SMART allows at most 5 minutes; a minute to spare for clock drift
DEFAULT_EXPIRES_IN_S = 300.0
MAX_REFRESH_MARGIN_S = 60.0
FAILURE_HOLD_S = 2.0  # concurrent deliveries share one failed attempt instead of each asking again
TRANSIENT_STATUS = {408, 429}


class CentralAuthError(httpx.TransportError):
    """No credential for the central server now. `str()` is safe to log: no token, no assertion."""

    permanent = False


class CentralAuthRefused(CentralAuthError):
    """A configuration problem: the token endpoint refuses this client, key or scope, or the server
    offers no SMART Backend Services. Waiting does not fix it; an administrator must."""

    permanent = True


class TokenEndpointUnavailable(CentralAuthError):
    """The token endpoint is down, slow or answering 5xx: retried with the outbox's backoff."""


class CentralUnauthorized(CentralAuthError):
    """The FHIR server still answers 401 with a brand-new token."""

    permanent = True


@dataclass(frozen=True)
class AccessToken:
    value: str
    scope: str
    expires_at: float  # monotonic clock
    kid: str

    def fresh(self, now: float) -> bool:
        return now < self.expires_at


@dataclass
class AuthStatus:
    """What /healthz and `central check` say about authentication. No secrets."""

    method: str
    state: str = "not tried"  # "ok" | "refused" | "unavailable" | "not tried"
    detail: str = ""
    token_endpoint: str = ""
    kid: str = ""
    scope: str = ""
    tokens_fetched: int = 0

    def authenticated(self) -> None:
        """The server accepted our credential."""
        self.state, self.detail = "ok", ""

    def as_dict(self) -> dict[str, str | int]:
        return {key: value for key, value in self.__dict__.items() if value not in ("", None)}


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """The OAuth `error` and a short `error_description` of a token endpoint answer."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}", ""
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", ""
    return str(body.get("error") or f"HTTP {response.status_code}"), str(body.get("error_description") or "")[:200]


class TokenSource:
    """Access tokens for one client: discovery, signed assertions, caching, key fallback."""

    def __init__(self, central: CentralSection, keys: KeyRing, client: httpx.AsyncClient):
        self.central = central
        self.keys = keys
        self.client = client  # for the token endpoint and discovery, not the FHIR base
        self.status = AuthStatus("smart-backend")
        self._token_url = central.token_url
        self._token: AccessToken | None = None
        self._failure: tuple[float, CentralAuthError] | None = None
        self._lock = asyncio.Lock()

    async def token(self, stale: str | None = None) -> str:
        """A current access token; `stale` is one the FHIR server refused, never handed out again."""
        async with self._lock:
            now = time.monotonic()
            if self._token is not None and self._token.fresh(now) and self._token.value != stale:
                return self._token.value
            if self._failure is not None and now - self._failure[0] < FAILURE_HOLD_S:
                raise self._failure[1]
            try:
                self._token = await self._fetch()
            except CentralAuthError as exc:
                self._token, self._failure = None, (time.monotonic(), exc)
                self.status.state = "refused" if exc.permanent else "unavailable"
                self.status.detail = str(exc)
                raise
            self._failure = None
            return self._token.value

    # --- discovery -------------------------------------------------------------------------------

    async def token_url(self) -> str:
        if not self._token_url:
            self._token_url = await self._discover()
        self.status.token_endpoint = self._token_url
        return self._token_url

    async def _discover(self) -> str:
        url = f"{self.central.base_url}/.well-known/smart-configuration"
        try:
            response = await self.client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenEndpointUnavailable(f"SMART discovery at {url}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code in TRANSIENT_STATUS:
            raise TokenEndpointUnavailable(f"SMART discovery at {url}: HTTP {response.status_code}")
        try:
            document = response.json() if response.status_code == 200 else None
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("token_endpoint"), str):
            raise CentralAuthRefused(
                f"{url} has no token_endpoint (HTTP {response.status_code}): set central.token_url"
            )
        methods = document.get("token_endpoint_auth_methods_supported") or []
        if "private_key_jwt" not in methods:
            raise CentralAuthRefused(
                f"{url}: token_endpoint_auth_methods_supported {methods} lacks private_key_jwt"
                " (the server offers no SMART Backend Services)"
            )
        algs = document.get("token_endpoint_auth_signing_alg_values_supported")
        ours = {key.alg for key in self._signing_keys()}
        if algs is not None and not ours & set(algs):
            raise CentralAuthRefused(
                f"{url}: token_endpoint_auth_signing_alg_values_supported {algs} has none of our key"
                f" algorithms {sorted(ours)} (generate one with `edge-agent central keygen --alg`)"
            )
        endpoint: str = document["token_endpoint"]
        return endpoint

    # --- the grant -------------------------------------------------------------------------------

    def _signing_keys(self) -> list[SigningKey]:
        try:
            keys = self.keys.keys()
        except KeyRingError as exc:
            raise CentralAuthRefused(str(exc)) from None
        if not keys:
            raise CentralAuthRefused(f"no signing key in {self.keys.folder}: run `edge-agent central keygen`")
        return keys

    def assertion(self, key: SigningKey, token_url: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.central.client_id, "sub": self.central.client_id, "aud": token_url,
            "jti": str(uuid.uuid4()), "iat": now, "exp": now + ASSERTION_LIFETIME_S,
        }  # fmt: skip
        return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "JWT"}, claims, key.key, algorithms=[key.alg])

    async def _fetch(self) -> AccessToken:
        token_url = await self.token_url()
        keys = self._signing_keys()
        if algs_unsupported := [key.kid for key in keys if key.alg not in SIGNING_ALGS]:
            raise CentralAuthRefused(f"keys {algs_unsupported} use an algorithm SMART does not allow")
        refused: list[str] = []
        for index, key in enumerate(keys):
            response = await self._post_grant(token_url, key)
            if response.status_code == 200:
                return self._accepted(response, key, refused)
            error, description = _error_of(response)
            if response.status_code >= 500 or response.status_code in TRANSIENT_STATUS:
                raise TokenEndpointUnavailable(f"token endpoint {token_url}: HTTP {response.status_code}")
            if error != "invalid_client":
                raise CentralAuthRefused(f"token endpoint {token_url} refused the grant: {error} {description}".strip())
            refused.append(key.kid)
            if index + 1 < len(keys):
                log.warning(
                    "SMART token endpoint refused key %s (invalid_client: %s); the EHR may not have it registered"
                    " yet; trying the previous key %s", key.kid, description, keys[index + 1].kid,
                    extra={"reason": "invalid_client"},
                )  # fmt: skip
        raise CentralAuthRefused(
            f"token endpoint {token_url} refused client {self.central.client_id!r} with every key"
            f" ({', '.join(refused)}): invalid_client {description}".rstrip()
        )

    async def _post_grant(self, token_url: str, key: SigningKey) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "scope": self.central.scopes,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(key, token_url),
        }
        try:
            return await self.client.post(token_url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenEndpointUnavailable(f"token endpoint {token_url}: {type(exc).__name__}") from None

    def _accepted(self, response: httpx.Response, key: SigningKey, refused: list[str]) -> AccessToken:
        try:
            body = response.json()
            value = body["access_token"]
            expires_in = float(body.get("expires_in") or DEFAULT_EXPIRES_IN_S)
        except (ValueError, KeyError, TypeError):
            raise TokenEndpointUnavailable("token endpoint answered 200 without an access token") from None
        if not isinstance(value, str) or str(body.get("token_type", "bearer")).lower() != "bearer":
            raise TokenEndpointUnavailable("token endpoint answered without a bearer access token")
        if refused:
            log.warning("SMART token obtained with the older key %s; newer keys %s are not registered yet",
                        key.kid, refused, extra={"reason": "key_fallback"})  # fmt: skip
        self.keys.record_working(key.kid)
        margin = min(MAX_REFRESH_MARGIN_S, expires_in / 10)
        scope = str(body.get("scope") or self.central.scopes)
        self.status.state, self.status.detail, self.status.kid, self.status.scope = "ok", "", key.kid, scope
        self.status.tokens_fetched += 1
        return AccessToken(value, scope, time.monotonic() + expires_in - margin, key.kid)


def refused_scope(response: httpx.Response, status: AuthStatus) -> None:
    """RFC 6750: a 403 with `error="insufficient_scope"` means the grant is too narrow, a configuration
    problem (never the patient's event): raise so the event waits in the outbox."""
    challenge = response.headers.get("www-authenticate", "")
    if response.status_code == 403 and "insufficient_scope" in challenge:
        status.state, status.detail = "refused", f"the FHIR server wants more scope (insufficient_scope): {challenge}"
        raise CentralAuthRefused(f"{response.request.url.host} answers 403 insufficient_scope")


class SmartBackendAuth(httpx.Auth):
    """Bearer tokens from a `TokenSource`; on a 401 one new token and one retry, then `CentralUnauthorized`."""

    def __init__(self, tokens: TokenSource):
        self.tokens = tokens

    @property
    def status(self) -> AuthStatus:
        return self.tokens.status

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("SmartBackendAuth works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        refused_scope(response, self.status)
        if response.status_code != 401:
            self.status.authenticated()
            return
        token = await self.tokens.token(stale=token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.status.state, self.status.detail = "refused", "the FHIR server refuses a new access token (HTTP 401)"
            raise CentralUnauthorized(f"{request.url.host} answers 401 to a new access token (check the scopes)")
        refused_scope(response, self.status)
        self.status.authenticated()


class StaticBearerAuth(httpx.Auth):
    """`central.auth_token` on every request; a 401 means the token is wrong or expired: the outbox holds."""

    def __init__(self, token: str):
        self.token = token
        self.status = AuthStatus("bearer")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            self.status.state, self.status.detail = "refused", "the FHIR server refuses central.auth_token (HTTP 401)"
            raise CentralUnauthorized(f"{request.url.host} refuses central.auth_token (HTTP 401)")
        refused_scope(response, self.status)
        self.status.authenticated()
