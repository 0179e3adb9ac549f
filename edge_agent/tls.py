"""The agent's TLS identity: a self-signed certificate kiosks pin by its SHA-256 fingerprint.

`ensure_certificate(config)` returns (cert_path, key_path), creating an ECDSA P-256 certificate for the
listen address in data_dir/tls/ on first use (or using the clinic's own tls_cert/tls_key).
`fingerprint(cert_path)` is the lowercase hex SHA-256 of the certificate's DER bytes, as enrollment prints
it and as a kiosk compares it with what the server presents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .config import SiteConfig

VALID_DAYS = 3650


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
    return cert_path, key_path


def fingerprint(cert_path: Path) -> str:
    certificate = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
