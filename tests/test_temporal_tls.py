"""A real mTLS connection: the dev server speaks no TLS, so a TLS terminator in this test
(server certificate from a private CA, client certificates required, ALPN h2) stands in front
of it, as a load balancer or Temporal Cloud would. `connect` reaches it with the CA, the
server name and a client certificate from the settings, and is refused without them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from temporal_client import connect
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY

SERVER_NAME = "temporal.aftersales.test"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # from another CA
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    usage: Any = None,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    tmp = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("aftersales test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server = _certificate(
        SERVER_NAME,
        server_key,
        issuer,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        names=[x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client = _certificate(
        "aftersales-worker", client_key, issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    other_key, stranger_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    other_ca = _certificate("another CA", other_key, None, ca=True)
    stranger = _certificate(
        "stranger",
        stranger_key,
        (other_ca.subject, other_key),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(
        ca=tmp / "ca.pem",
        server_cert=_write(tmp / "server.pem", server, server_key),
        server_key=tmp / "server.key",
        client_cert=_write(tmp / "client.pem", client, client_key),
        client_key=tmp / "client.key",
        stranger_cert=_write(tmp / "stranger.pem", stranger, stranger_key),
        stranger_key=tmp / "stranger.key",
    )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def tls_terminator(pki: Pki, upstream: str) -> AsyncIterator[str]:
    """TLS 1.2+ with ALPN h2 and a required client certificate of our CA, relaying the
    plaintext HTTP/2 (gRPC) to `upstream`; its address."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = upstream.rsplit(":", 1)
    relays: set[asyncio.Future[Any]] = set()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        both = asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        relays.add(both)
        try:
            await both
        finally:
            relays.discard(both)

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
    address = server.sockets[0].getsockname()
    try:
        yield f"127.0.0.1:{address[1]}"
    finally:
        server.close()
        for task in relays:
            task.cancel()


def settings(address: str, **fields: Any) -> Settings:
    return Settings(
        env="test",
        temporal_address=address,
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        **fields,
    )


@pytest.fixture(autouse=True)
def no_temporal_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the settings of each test configure the connection."""
    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))


async def test_mtls_with_the_servers_ca_and_name(pki: Pki, dev_server: WorkflowEnvironment) -> None:
    upstream = dev_server.client.service_client.config.target_host
    async with tls_terminator(pki, upstream) as address:
        client = await connect(
            settings(
                address,
                temporal_tls_ca_file=pki.ca,
                temporal_tls_server_name=SERVER_NAME,
                temporal_tls_cert_file=pki.client_cert,
                temporal_tls_key_file=pki.client_key,
            )
        )
        # A round trip through the terminator: the namespace the dev server holds.
        assert await client.service_client.check_health()
        assert client.namespace == "default"


@pytest.mark.parametrize(
    "wrong",
    [
        "no client certificate",
        "a client certificate of another CA",
        "another server name",
        "no CA (the system's roots do not know ours)",
    ],
)
async def test_connections_the_server_or_the_client_must_refuse(
    wrong: str, pki: Pki, dev_server: WorkflowEnvironment
) -> None:
    fields: dict[str, Any] = {
        "temporal_tls_ca_file": pki.ca,
        "temporal_tls_server_name": SERVER_NAME,
        "temporal_tls_cert_file": pki.client_cert,
        "temporal_tls_key_file": pki.client_key,
    }
    if wrong == "no client certificate":
        del fields["temporal_tls_cert_file"], fields["temporal_tls_key_file"]
    elif wrong == "a client certificate of another CA":
        fields["temporal_tls_cert_file"] = pki.stranger_cert
        fields["temporal_tls_key_file"] = pki.stranger_key
    elif wrong == "another server name":
        fields["temporal_tls_server_name"] = "impostor.test"
    else:
        del fields["temporal_tls_ca_file"]
    upstream = dev_server.client.service_client.config.target_host
    async with tls_terminator(pki, upstream) as address:
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(connect(settings(address, **fields)), 30)
