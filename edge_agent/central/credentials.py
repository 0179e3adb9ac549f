"""How the agent proves itself to the central FHIR server: `central.auth` as an httpx auth and TLS context.

    credentials = central_credentials(config.central, smart_key_dir(config))
    httpx.AsyncClient(base_url=..., auth=credentials.auth, verify=credentials.verify)

"bearer": `auth_token` on every request. "smart-backend": SMART Backend Services tokens
(edge_agent/central/smart_auth.py). "mtls": only the client certificate. "none": nothing. A client
certificate (`tls_client_cert`/`tls_client_key`) and a private CA (`tls_ca_file`) apply to any method.
"""

from __future__ import annotations

import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..config import CentralSection, SiteConfig
from .smart_auth import AuthStatus, SmartBackendAuth, StaticBearerAuth, TokenSource
from .smart_keys import KeyRing, KeyRingError


@dataclass
class CentralCredentials:
    auth: httpx.Auth | None
    verify: ssl.SSLContext | bool
    status: AuthStatus
    token_client: httpx.AsyncClient | None = None  # smart-backend: talks to the token endpoint

    async def aclose(self) -> None:
        if self.token_client is not None:
            await self.token_client.aclose()


def smart_key_dir(config: SiteConfig) -> Path:
    """`central.key_dir`, else smart/ in the folder of the site key (outside the database)."""
    return config.central.key_dir or config.key_file.parent / "smart"


def tls_context(central: CentralSection) -> ssl.SSLContext | bool:
    if central.tls_ca_file is None and central.tls_client_cert is None:
        return True  # httpx's default verification
    context = ssl.create_default_context(cafile=str(central.tls_ca_file) if central.tls_ca_file else None)
    if central.tls_client_cert is not None:
        context.load_cert_chain(str(central.tls_client_cert), str(central.tls_client_key))
    return context


def central_credentials(central: CentralSection, key_dir: Path | None = None) -> CentralCredentials:
    verify = tls_context(central)
    method = central.auth_method
    if method == "bearer":
        bearer = StaticBearerAuth(central.auth_token)
        return CentralCredentials(bearer, verify, bearer.status)
    if method == "smart-backend":
        folder = key_dir or central.key_dir
        if folder is None:
            raise ValueError("central.auth = 'smart-backend' needs a key folder")
        token_client = httpx.AsyncClient(timeout=central.timeout_s, verify=verify)
        smart = SmartBackendAuth(TokenSource(central, KeyRing(folder), token_client))
        return CentralCredentials(smart, verify, smart.status, token_client)
    return CentralCredentials(None, verify, AuthStatus(method, state="ok" if method == "mtls" else "not used"))


def startup_problems(config: SiteConfig) -> list[str]:
    """What stops the agent from ever authenticating, found without asking the server (one line each)."""
    central = config.central
    if central.kind != "fhir":
        return []
    problems = []
    if central.auth_method == "smart-backend":
        folder = smart_key_dir(config)
        try:
            keys = KeyRing(folder).keys()
        except KeyRingError as exc:
            keys, problems = [], [f"central.key_dir: {exc}"]
        if not keys and not problems:
            problems.append(f"central.key_dir: no signing key in {folder}; run `edge-agent central keygen`")
        for path in folder.glob("*.jwk.json") if folder.is_dir() else []:
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                problems.append(f"central.key_dir: {path} is readable by others (chmod 600)")
    try:
        tls_context(central)
    except (OSError, ssl.SSLError) as exc:
        problems.append(f"central.tls_client_cert: cannot load the certificate or key ({type(exc).__name__}: {exc})")
    return problems


def auth_health(connector: object) -> dict[str, str | int] | None:
    """The connector's authentication status for /healthz (None for connectors without one)."""
    credentials = getattr(connector, "credentials", None)
    return credentials.status.as_dict() if isinstance(credentials, CentralCredentials) else None


async def check_auth(config: SiteConfig) -> tuple[bool, str]:
    """One line for `edge-agent central check`: does the configured method get the server to talk to us?"""
    central = config.central
    credentials = central_credentials(central, smart_key_dir(config))
    try:
        if isinstance(credentials.auth, SmartBackendAuth):
            tokens = credentials.auth.tokens
            try:
                await tokens.token()
            except httpx.TransportError as exc:
                return False, f"SMART backend: {exc}"
            status = tokens.status
            return True, f"SMART backend: token endpoint {status.token_endpoint}, got a token (key {status.kid}) with scopes {status.scope}"
        async with httpx.AsyncClient(auth=credentials.auth, verify=credentials.verify, timeout=central.timeout_s) as client:
            try:
                response = await client.get(f"{central.base_url}/metadata", headers={"Accept": "application/fhir+json"})
            except httpx.TransportError as exc:
                return False, f"{central.auth_method}: {central.base_url}/metadata failed: {exc or type(exc).__name__}"
        ok = response.status_code == 200
        return ok, f"{central.auth_method}: {central.base_url}/metadata answered HTTP {response.status_code}"
    finally:
        await credentials.aclose()
