"""The kiosk's side of the kiosk API (lobby_core/contract.py): finding the agent and talking to it.

The kiosk trusts only the agent it was enrolled with: over HTTPS the agent's certificate must have the
SHA-256 fingerprint pinned at enrollment, whatever zeroconf announces; plain HTTP is accepted only on
loopback. Failures are sorted into two kinds the flow cares about: `AgentUnreachable` (carry on offline,
spool) and `AgentRefused` (the agent answered no: send the patient to the desk).
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from lobby_core.contract import (
    SERVICE_TYPE,
    BoardState,
    CheckinRequest,
    CheckinResponse,
    Heartbeat,
    HelpRequest,
    LookupRequest,
    LookupResponse,
    Problem,
    SupportCommands,
    SupportResult,
)
from lobby_core.site_config import is_loopback

API = "/api/v1"


class AgentUnreachable(Exception):
    """No usable answer: connection refused, timeout, 5xx, or a certificate that is not the pinned one."""


class AgentRefused(Exception):
    """The agent answered and said no (4xx)."""

    def __init__(self, status: int, problem: Problem | None):
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.error if problem else ''}".strip())


class AgentClient:
    def __init__(self, base_url: str, token: str, fingerprint: str = "", timeout_s: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._fingerprint = normalise_fingerprint(fingerprint)
        self._timeout = httpx.Timeout(timeout_s, connect=min(2.0, timeout_s))
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def lookup(self, request: LookupRequest) -> LookupResponse:
        return LookupResponse.model_validate_json(self._post("/lookup", request).content)

    def checkin(self, request: CheckinRequest) -> CheckinResponse:
        response = self._post("/checkins", request, headers={"Idempotency-Key": str(request.checkin_id)})
        return CheckinResponse.model_validate_json(response.content)

    def board(self) -> BoardState:
        return BoardState.model_validate_json(self._send("GET", "/board").content)

    def heartbeat(self, heartbeat: Heartbeat) -> None:
        self._post("/kiosks/heartbeat", heartbeat)

    def help(self, request: HelpRequest) -> None:
        self._post("/help", request)

    def support_commands(self, wait_s: float) -> SupportCommands:
        """Staff's commands for this kiosk; the agent holds the request up to `wait_s` until one comes."""
        timeout = httpx.Timeout(wait_s + 10, connect=self._timeout.connect)
        response = self._send("GET", "/kiosk/commands", params={"wait": wait_s}, timeout=timeout)
        return SupportCommands.model_validate_json(response.content)

    def support_result(self, command_id: int, result: SupportResult) -> None:
        self._post(f"/kiosk/commands/{command_id}/result", result)

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    # --- transport --------------------------------------------------------------------------------

    def _post(self, path: str, body: BaseModel, headers: dict[str, str] | None = None) -> httpx.Response:
        return self._send("POST", path, content=body.model_dump_json(), headers={"Content-Type": "application/json", **(headers or {})})

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._client().request(method, API + path, **kwargs)
        except (httpx.TransportError, ssl.SSLError, OSError) as exc:
            self.close()  # a fresh connection (and a fresh certificate check) next time
            raise AgentUnreachable(type(exc).__name__) from None
        if response.status_code >= 500 or response.status_code == 408:
            raise AgentUnreachable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                problem = Problem.model_validate_json(response.content)
            except ValueError:
                problem = None
            raise AgentRefused(response.status_code, problem)
        return response

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    base_url=self.base_url,
                    headers={"Authorization": f"Bearer {self._token}"},
                    timeout=self._timeout,
                    verify=self._tls_context(),
                )
            return self._http

    def _tls_context(self) -> ssl.SSLContext | bool:
        parts = urlsplit(self.base_url)
        if parts.scheme == "http":
            if not is_loopback(parts.hostname or ""):
                raise AgentUnreachable("plain HTTP is only trusted on loopback")
            return True
        if not self._fingerprint:
            raise AgentUnreachable("no pinned agent fingerprint for HTTPS (enroll the kiosk)")
        return pinned_context(parts.hostname or "", parts.port or 443, self._fingerprint)


def normalise_fingerprint(fingerprint: str) -> str:
    return fingerprint.replace(":", "").replace(" ", "").lower().removeprefix("sha256")


def pinned_context(host: str, port: int, fingerprint: str) -> ssl.SSLContext:
    """A TLS context that trusts exactly the certificate whose SHA-256 was pinned at enrollment.

    The certificate is fetched once and compared with the pin; only then is it made the sole trust
    anchor, so a different certificate presented later fails the handshake itself.
    """
    der = fetch_certificate(host, port)
    if hashlib.sha256(der).hexdigest() != fingerprint:
        raise AgentUnreachable("agent certificate does not match the pinned fingerprint")
    context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    context.check_hostname = False  # the pin identifies the agent; its address may change
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def fetch_certificate(host: str, port: int, timeout_s: float = 3.0) -> bytes:
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            with probe.wrap_socket(raw, server_hostname=host) as tls:
                return tls.getpeercert(binary_form=True)
    except OSError as exc:
        raise AgentUnreachable(type(exc).__name__) from None


def discover(interfaces: list[str], site_id: str, fingerprint: str = "", timeout_s: float = 5.0) -> str | None:
    """The agent of `site_id` announcing `_clinic-checkin._tcp.local.`, as a base URL; None if none answers.

    Announcements of other sites (a shared building, a demo on the same machine) are ignored, and so is
    one whose certificate is not the `fingerprint` pinned at enrollment, when there is one.
    """
    from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

    found: list[str] = []
    event = threading.Event()
    zeroconf = Zeroconf(interfaces=interfaces)

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Added or found:
            return
        info = zeroconf.get_service_info(service_type, name, timeout=2000)
        if info is None or not info.parsed_addresses():
            return
        properties = {key.decode(): (value or b"").decode() for key, value in info.properties.items()}
        if properties.get("site") != site_id:
            return
        if fingerprint and normalise_fingerprint(properties.get("fp", "")) != normalise_fingerprint(fingerprint):
            return
        scheme = properties.get("scheme") or ("https" if properties.get("tls") in ("1", "on", "true") else "http")
        address = info.parsed_addresses()[0]
        host = f"[{address}]" if ":" in address else address
        found.append(f"{scheme}://{host}:{info.port}")
        event.set()

    browser = ServiceBrowser(zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        event.wait(timeout_s)
    finally:
        browser.cancel()
        zeroconf.close()
    return found[0] if found else None
