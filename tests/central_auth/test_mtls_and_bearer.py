"""The other methods: mutual TLS (the sandbox behind uvicorn's TLS with CERT_REQUIRED, certificates
made here with `cryptography`) and a static bearer token (a real token of the OAuth server)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge_agent.central.smart_keys import KeyRing
from edge_agent.config import DEFAULT_SMART_SCOPES

from tests.sandbox import Sandbox, wait_until
from .conftest import CLIENT_ID, Lobby, gate_counts, grant, keygen


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(folder: Path, stem: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


class Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate for the agent."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        self.ca, _ = _write(folder, "ca", ca, ca_key)

        def issue(common_name: str, usage, san=None):
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            )  # fmt: skip
            if san:
                builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
            return _write(folder, common_name, builder.sign(ca_key, hashes.SHA256()), key)

        self.server = issue("central", ExtendedKeyUsageOID.SERVER_AUTH, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        self.client = issue("agent", ExtendedKeyUsageOID.CLIENT_AUTH)

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(*map(str, self.client))
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@pytest.fixture
def mtls_sandbox(tmp_path: Path, pki: Pki):
    server = Sandbox(
        tmp_path / "central.sqlite", tmp_path / "sandbox.log", scheme="https", verify=pki.client_context(),
        args=("--tls-cert", str(pki.server[0]), "--tls-key", str(pki.server[1]), "--tls-client-ca", str(pki.ca)),
    )  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_sandbox_refuses_a_client_without_certificate(pki, mtls_sandbox):
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{mtls_sandbox.url}/metadata", verify=ssl.create_default_context(cafile=str(pki.ca)), timeout=5)


def test_checkins_are_delivered_over_mutual_tls(pki, mtls_sandbox, agent_factory):
    tls = {"tls_ca_file": str(pki.ca)}
    agent = agent_factory(mtls_sandbox.url, auth="mtls", tls_client_cert=str(pki.client[0]),
                          tls_client_key=str(pki.client[1]), **tls)  # fmt: skip
    lobby = Lobby(mtls_sandbox, agent, count=3)
    agent.start()
    wait_until(lambda: agent.health()["schedule_appointments"] == 3, 30, "the schedule over mutual TLS")
    for n in range(3):
        lobby.check_in(n)
    lobby.wait_delivered()
    assert lobby.encounters_at_central() == {checkin_id: 1 for checkin_id in lobby.checkin_ids}

    # the same server without the client certificate: nothing gets through, nothing is dead-lettered
    stranger = agent_factory(mtls_sandbox.url, auth="none", **tls)
    stranger_lobby = Lobby(mtls_sandbox, stranger, count=3)
    stranger.settings["schedule"] = {"source": "demo"}
    stranger.start()
    body_id = stranger_lobby.check_in(0, walk_in=True)  # its demo schedule has no appt-0
    wait_until(lambda: stranger.health()["central"] == "unreachable", 30, "the TLS refusal")
    health = stranger.health()
    assert health["outbox_depth"] == 1 and health["dead_letters"] == 0
    assert body_id not in lobby.encounters_at_central()


def test_a_static_bearer_token_works_and_a_refused_one_holds(tmp_path, oauth, gated_sandbox, agent_factory):
    oauth.register(keygen(tmp_path, tmp_path / "keys"), DEFAULT_SMART_SCOPES)
    key = KeyRing(tmp_path / "keys").keys()[0]
    response = grant(oauth, key, scope=DEFAULT_SMART_SCOPES)
    token = response.json()["access_token"]
    agent = agent_factory(gated_sandbox.url, auth_token=token)  # auth unset: bearer, as before
    agent.settings["schedule"] = {"source": "central", "refresh_s": 3600, "scope": "whole-server"}
    lobby = Lobby(gated_sandbox, agent, count=2)
    agent.start()
    lobby.check_in(0)
    lobby.wait_delivered()
    assert agent.health()["central_auth"]["method"] == "bearer"

    oauth.revoke(CLIENT_ID)
    lobby.check_in(1)
    wait_until(lambda: agent.health()["central_auth"]["state"] == "refused", 30, "the 401 to show")
    health = agent.health()
    assert "auth_token" in health["central_auth"]["detail"]
    assert health["outbox_depth"] == 1 and health["dead_letters"] == 0
    assert gate_counts(gated_sandbox)["unauthorized"] >= 1
