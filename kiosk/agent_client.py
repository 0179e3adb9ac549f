"""The kiosk's side of the kiosk API (lobby_core/contract.py): finding the agent and talking to it.

The kiosk trusts only the agent it was enrolled with: over HTTPS the agent's certificate must have the
SHA-256 fingerprint pinned at enrollment, whatever zeroconf announces; plain HTTP is accepted only on
loopback. When the agent rotates its certificate, the answer to an authenticated heartbeat names the
next one; the kiosk adds it as a second pin (`PinStore`, kept in its state folder), accepts either
during the overlap, and drops the old pin once the agent serves the new one and names no next.
Failures are sorted into two kinds the flow cares about: `AgentUnreachable` (carry on offline,
spool) and `AgentRefused` (the agent answered no: send the patient to the desk).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import ssl
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from lobby_core.contract import (
    NEXT_FINGERPRINT_HEADER,
    SERVED_FINGERPRINT_HEADER,
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
PIN_FILE = "agent-pins.json"  # in the kiosk's state folder
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class AgentUnreachable(Exception):
    """No usable answer: connection refused, timeout, 5xx, or a certificate that is not the pinned one."""


class AgentRefused(Exception):
    """The agent answered and said no (4xx)."""

    def __init__(self, status: int, problem: Problem | None):
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.error if problem else ''}".strip())


class PinStore:
    """The agent certificates this kiosk trusts: the one pinned at enrollment, and during a rotation the
    next one. Kept in `path` (JSON) so a restart mid-rotation keeps both; a new enrollment pin (the site
    file changed) starts over from it."""

    def __init__(self, path: Path | None, enrolled: str):
        self._path = Path(path) if path else None
        self._enrolled = normalise_fingerprint(enrolled)
        self._lock = threading.Lock()
        state = self._read()
        same_enrollment = state.get("enrolled") == self._enrolled
        self._pins = [p for p in state.get("pins", []) if SHA256_HEX.match(p)] if same_enrollment else []
        if not self._pins and self._enrolled:
            self._pins = [self._enrolled]

    def accepted(self) -> list[str]:
        with self._lock:
            return list(self._pins)

    def learn(self, upcoming: str) -> None:
        with self._lock:
            if upcoming not in self._pins:
                self._pins = self._pins[-1:] + [upcoming]
                self._save()

    def settle(self, served: str) -> None:
        """The agent serves `served` and names no next certificate: only it is trusted from now on."""
        with self._lock:
            if served in self._pins and self._pins != [served]:
                self._pins = [served]
                self._save()

    def _read(self) -> dict:
        if self._path is None or not self._path.exists():
            return {}
        try:
            return json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self._path.with_suffix(".tmp")
        with scratch.open("w", encoding="utf-8") as handle:
            json.dump({"enrolled": self._enrolled, "pins": self._pins}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, self._path)


class AgentClient:
    def __init__(self, base_url: str, token: str, fingerprint: str = "", timeout_s: float = 5.0,
                 pins: PinStore | None = None):  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.pins = pins or PinStore(None, fingerprint)
        self.served_fingerprint = ""  # of the certificate the current connection was pinned to
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
        pinned = urlsplit(self.base_url).scheme == "https"
        beat = heartbeat.model_copy(update={"trusted_fingerprints": self.pins.accepted() if pinned else []})
        response = self._post("/kiosks/heartbeat", beat)
        if pinned:
            self._follow_rotation(response)

    def _follow_rotation(self, response: httpx.Response) -> None:
        """Learn the next certificate; once the agent serves a pinned one and names no next, keep only it."""
        upcoming = normalise_fingerprint(response.headers.get(NEXT_FINGERPRINT_HEADER, ""))
        served = normalise_fingerprint(response.headers.get(SERVED_FINGERPRINT_HEADER, ""))
        if SHA256_HEX.match(upcoming):
            self.pins.learn(upcoming)
        elif SHA256_HEX.match(served) and served in self.pins.accepted():
            self.pins.settle(served)
            if served != self.served_fingerprint:
                self.close()  # this connection still has the old certificate: the next one is pinned afresh

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
        accepted = self.pins.accepted()
        if not accepted:
            raise AgentUnreachable("no pinned agent fingerprint for HTTPS (enroll the kiosk)")
        context, self.served_fingerprint = pinned_context(parts.hostname or "", parts.port or 443, accepted)
        return context


def normalise_fingerprint(fingerprint: str) -> str:
    return fingerprint.replace(":", "").replace(" ", "").lower().removeprefix("sha256")


def pinned_context(host: str, port: int, fingerprints: str | list[str]) -> tuple[ssl.SSLContext, str]:
    """A TLS context that trusts exactly the presented certificate, if its SHA-256 is one of the pins;
    and that fingerprint.

    The certificate is fetched once and compared with the pins; only then is it made the sole trust
    anchor, so a different certificate presented later fails the handshake itself.
    """
    accepted = [fingerprints] if isinstance(fingerprints, str) else list(fingerprints)
    der = fetch_certificate(host, port)
    presented = hashlib.sha256(der).hexdigest()
    if presented not in accepted:
        raise AgentUnreachable("agent certificate does not match the pinned fingerprint")
    context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    context.check_hostname = False  # the pin identifies the agent; its address may change
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context, presented


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
