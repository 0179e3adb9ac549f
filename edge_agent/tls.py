"""The agent's TLS identity: a self-signed certificate kiosks pin by its SHA-256 fingerprint.

`ensure_certificate(config)` returns (cert_path, key_path), creating an ECDSA P-256 certificate for the
listen address in data_dir/tls/ on first use (or using the clinic's own tls_cert/tls_key).
`fingerprint(cert_path)` is the lowercase hex SHA-256 of the certificate's DER bytes, as enrollment prints
it and as a kiosk compares it with what the server presents.

Rotation (`edge-agent rotate-tls`), with an overlap so that no kiosk is cut off:
1. `begin_rotation`: a next certificate in data_dir/tls/next.{crt,key}; the agent keeps serving the old
   one, and every authenticated heartbeat answer names the next one (`NEXT_FINGERPRINT_HEADER`); kiosks
   add it as a second pin and list their pins in their heartbeats;
2. `activate` (by `rotate-tls --activate`, or by the agent itself once every enrolled kiosk seen within
   RECENT_S has the new pin): the next certificate becomes agent.{crt,key}; the running agent reloads its
   TLS context in place (`CertificateWatcher`) and kiosks drop the old pin when the answer names no next.
A kiosk that never learned the new pin fails closed and `edge-agent status` lists it for re-enrollment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import sqlite3
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lobby_core.contract import NEXT_FINGERPRINT_HEADER, SERVED_FINGERPRINT_HEADER

from .config import SiteConfig

log = logging.getLogger(__name__)
VALID_DAYS = 3650
RECENT_S = 24 * 3600.0  # kiosks seen within this must have the new pin before the agent switches by itself
WATCH_S = 2.0


def certificate_paths(config: SiteConfig) -> tuple[Path, Path]:
    if config.agent.tls_cert and config.agent.tls_key:
        return config.agent.tls_cert, config.agent.tls_key
    folder = config.data_dir / "tls"
    return folder / "agent.crt", folder / "agent.key"


def ensure_certificate(config: SiteConfig) -> tuple[Path, Path]:
    cert_path, key_path = certificate_paths(config)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    if config.agent.tls_cert:
        raise FileNotFoundError(f"agent.tls_cert: {cert_path} or its key does not exist")
    _generate(config, cert_path, key_path)
    return cert_path, key_path


def _generate(config: SiteConfig, cert_path: Path, key_path: Path) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    host = config.agent.host
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        pass
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{config.site.id} edge agent"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, config.site.name),
    ])  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))  # fmt: skip
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def fingerprint(cert_path: Path) -> str:
    certificate = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


# --- rotation ----------------------------------------------------------------------------------------


class RotationError(Exception):
    pass


def next_paths(config: SiteConfig) -> tuple[Path, Path]:
    folder = config.data_dir / "tls"
    return folder / "next.crt", folder / "next.key"


def _own_certificate(config: SiteConfig) -> None:
    if config.agent.tls_cert:
        raise RotationError("agent.tls_cert is the clinic's own certificate: rotate it where it is issued")
    if not config.uses_tls:
        raise RotationError("this agent serves plain HTTP (agent.tls): there is no certificate to rotate")


def begin_rotation(config: SiteConfig) -> str:
    """The next certificate (created once; a second call returns the same); its fingerprint."""
    _own_certificate(config)
    ensure_certificate(config)
    cert_path, key_path = next_paths(config)
    if not (cert_path.exists() and key_path.exists()):
        scratch_cert, scratch_key = cert_path.with_suffix(".crt.tmp"), key_path.with_suffix(".key.tmp")
        _generate(config, scratch_cert, scratch_key)
        os.replace(scratch_key, key_path)
        os.replace(scratch_cert, cert_path)  # last: its presence means the pair is complete
    return fingerprint(cert_path)


def next_fingerprint(config: SiteConfig) -> str:
    cert_path, key_path = next_paths(config)
    return fingerprint(cert_path) if cert_path.exists() and key_path.exists() else ""


def activate(config: SiteConfig) -> str:
    """Make the next certificate the served one (the old pair is kept as previous.*); its fingerprint."""
    _own_certificate(config)
    next_cert, next_key = next_paths(config)
    if not next_cert.exists():
        raise RotationError("no rotation under way (run `edge-agent rotate-tls` first)")
    cert_path, key_path = certificate_paths(config)
    folder = cert_path.parent
    for current, previous in ((cert_path, folder / "previous.crt"), (key_path, folder / "previous.key")):
        if current.exists():
            os.replace(current, previous)
    os.replace(next_key, key_path)
    os.replace(next_cert, cert_path)
    return fingerprint(cert_path)


@dataclass(frozen=True)
class KioskPins:
    kiosk_id: str
    last_seen_at: str | None
    recent: bool
    fingerprints: tuple[str, ...]


def kiosk_pins(conn: sqlite3.Connection, now: float | None = None) -> list[KioskPins]:
    """Every enrolled kiosk with the pins it listed in its last heartbeat."""
    now = time.time() if now is None else now
    found = []
    for row in conn.execute("SELECT kiosk_id, enrolled_at, last_seen_at, heartbeat FROM kiosks WHERE revoked_at IS NULL ORDER BY kiosk_id"):
        beat = json.loads(row[3]) if row[3] else {}
        seen = dt.datetime.fromisoformat(row[2]).timestamp() if row[2] else None
        enrolled = dt.datetime.fromisoformat(row[1]).timestamp()
        stale_beat = seen is None or seen < enrolled  # re-enrolled since: its old pins do not count
        found.append(KioskPins(row[0], row[2], seen is not None and now - seen <= RECENT_S,
                               () if stale_beat else tuple(beat.get("trusted_fingerprints", []))))  # fmt: skip
    return found


def all_recent_kiosks_have(pins: list[KioskPins], wanted: str) -> bool:
    recent = [kiosk for kiosk in pins if kiosk.recent]
    return bool(recent) and all(wanted in kiosk.fingerprints for kiosk in recent)


def needing_reenrollment(pins: list[KioskPins], served: str) -> list[str]:
    """Kiosks whose pins (as last reported) do not include the served certificate: they cannot connect."""
    return [kiosk.kiosk_id for kiosk in pins if kiosk.fingerprints and served not in kiosk.fingerprints]


def rotation_report(config: SiteConfig, conn: sqlite3.Connection) -> list[str]:
    """The status lines about the certificate (edge-agent status)."""
    if not config.uses_tls:
        return []
    cert_path, _ = certificate_paths(config)
    served = fingerprint(cert_path) if cert_path.exists() else ""
    pins = kiosk_pins(conn)
    lines = [f"tls certificate:      {served or '-'}"]
    if upcoming := next_fingerprint(config):
        have = [kiosk.kiosk_id for kiosk in pins if upcoming in kiosk.fingerprints]
        lines.append(f"tls next certificate: {upcoming} (pinned by {len(have)}/{len(pins)} kiosks: {', '.join(have) or '-'})")
    if stale := needing_reenrollment(pins, served):
        lines.append(f"needs re-enrollment:  {', '.join(stale)} (does not trust the served certificate)")
    return lines


PinsReader = Callable[[], Awaitable[list[KioskPins]]]


class CertificateWatcher:
    """In the running agent: reloads the served certificate into the live TLS context when the file
    changes (new handshakes get it, open connections finish), and activates a pending rotation once
    every recently seen kiosk has the new pin. `edge-agent serve` builds it and hands it both to the app
    (heartbeat answers name the certificates) and to the server (`serve_with`: the context it serves)."""

    def __init__(self, config: SiteConfig):
        self.config = config
        self.context: ssl.SSLContext | None = None
        self.served = fingerprint(ensure_certificate(config)[0])
        self.next = next_fingerprint(config)

    def serve_with(self, context: ssl.SSLContext | None) -> None:
        self.context = context

    def heartbeat_headers(self) -> dict[str, str]:
        """What a heartbeat's answer carries: the served certificate and, during a rotation, the next."""
        return {SERVED_FINGERPRINT_HEADER: self.served, **({NEXT_FINGERPRINT_HEADER: self.next} if self.next else {})}

    async def run(self, read_pins: PinsReader) -> None:
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                await self.check(read_pins)
            except (OSError, ValueError, ssl.SSLError) as exc:  # a half-written pair: next time
                log.warning("certificate check failed", extra={"error": type(exc).__name__})

    async def check(self, read_pins: PinsReader) -> None:
        self.next = next_fingerprint(self.config)
        if self.next and all_recent_kiosks_have(await read_pins(), self.next):
            activate(self.config)
            log.info("certificate rotation activated", extra={"fingerprint": self.next, "reason": "all kiosks pinned"})
            self.next = ""
        cert_path, key_path = certificate_paths(self.config)
        current = fingerprint(cert_path)
        if current != self.served and self.context is not None:
            self.context.load_cert_chain(str(cert_path), str(key_path))
            self.served = current
            log.info("serving a new certificate", extra={"fingerprint": current})
