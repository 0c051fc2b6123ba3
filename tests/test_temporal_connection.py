"""The Temporal connection built from our settings and Temporal's env-config (TEMPORAL_*
variables and the temporal.toml profile): which source wins, when TLS is on, mTLS files and
API keys. No network: only the options `Client.connect` would get."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from api.deps import Resources
from api.errors import Problem
from cli import ROOT
from db.document_store import LocalDocumentStore
from db.read_model_reader import ReadModelReader
from db.session import make_engine, make_sessionmaker
from settings import Settings
from temporal_connection import TemporalConnectionError, temporal_connection
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY

CA = b"-----BEGIN CERTIFICATE-----\nserver CA\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nclient key\n-----END PRIVATE KEY-----\n"


def settings(**fields: Any) -> Settings:
    return Settings(
        env="test",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        **fields,
    )


@pytest.fixture(autouse=True)
def no_temporal_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither this machine's TEMPORAL_* variables nor a profile in its home decide here."""
    for name in list(os.environ):
        if name.startswith(("TEMPORAL_", "AFTERSALES_TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def pems(tmp_path: Path) -> dict[str, Path]:
    files = {"ca": CA, "cert": CERT, "key": KEY}
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_bytes(content)
    return paths


def test_defaults_reach_the_local_dev_server_in_plain_text() -> None:
    connection = temporal_connection(settings(), environ={})
    assert connection.target_host == "127.0.0.1:7233"
    assert connection.namespace == "default"
    assert connection.tls is False
    assert connection.api_key is None


def test_temporal_variables_configure_a_cloud_connection_with_an_api_key() -> None:
    environ = {
        "TEMPORAL_ADDRESS": "eu-west-1.aws.api.temporal.io:7233",
        "TEMPORAL_NAMESPACE": "aftersales.a1b2c",
        "TEMPORAL_API_KEY": "cloud-api-key",
    }
    connection = temporal_connection(settings(), environ=environ)
    assert connection.target_host == "eu-west-1.aws.api.temporal.io:7233"
    assert connection.namespace == "aftersales.a1b2c"
    assert connection.api_key == "cloud-api-key"
    # An API key means TLS with the system's roots.
    assert connection.tls == TLSConfig()
    assert "cloud-api-key" not in repr(connection)


def test_a_toml_profile_configures_mtls(tmp_path: Path, pems: dict[str, Path]) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        f"""
[profile.default]
address = "localhost:7233"

[profile.cloud]
address = "aftersales.a1b2c.tmprl.cloud:7233"
namespace = "aftersales.a1b2c"

[profile.cloud.tls]
server_name = "aftersales.a1b2c.tmprl.cloud"
server_ca_cert_path = "{pems["ca"]}"
client_cert_path = "{pems["cert"]}"
client_key_path = "{pems["key"]}"

[profile.cloud.grpc_meta]
x-team = "returns"
"""
    )
    environ = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "cloud"}
    connection = temporal_connection(settings(), environ=environ)
    assert connection.target_host == "aftersales.a1b2c.tmprl.cloud:7233"
    assert connection.namespace == "aftersales.a1b2c"
    assert connection.tls == TLSConfig(
        domain="aftersales.a1b2c.tmprl.cloud",
        server_root_ca_cert=CA,
        client_cert=CERT,
        client_private_key=KEY,
    )
    assert connection.rpc_metadata == {"x-team": "returns"}
    # The default profile is another server.
    default = temporal_connection(settings(), environ={"TEMPORAL_CONFIG_FILE": str(config)})
    assert (default.target_host, default.tls) == ("localhost:7233", False)


def test_our_settings_win_over_temporal_variables(pems: dict[str, Path]) -> None:
    environ = {
        "TEMPORAL_ADDRESS": "from-temporal:7233",
        "TEMPORAL_NAMESPACE": "theirs",
        "TEMPORAL_API_KEY": "their-key",
        "TEMPORAL_TLS_SERVER_NAME": "their-name",
    }
    ours = settings(
        temporal_address="ours:7233",
        temporal_namespace="ours",
        temporal_api_key="our-key",
        temporal_tls_server_name="our-name",
        temporal_tls_ca_file=pems["ca"],
    )
    connection = temporal_connection(ours, environ=environ)
    assert (connection.target_host, connection.namespace) == ("ours:7233", "ours")
    assert connection.api_key == "our-key"
    assert connection.tls == TLSConfig(domain="our-name", server_root_ca_cert=CA)


def test_what_our_settings_leave_unset_comes_from_temporal_variables(
    pems: dict[str, Path],
) -> None:
    """Field by field: our namespace, their address and client certificate."""
    environ = {
        "TEMPORAL_ADDRESS": "from-temporal:7233",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pems["cert"]),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pems["key"]),
    }
    connection = temporal_connection(settings(temporal_namespace="ours"), environ=environ)
    assert (connection.target_host, connection.namespace) == ("from-temporal:7233", "ours")
    assert connection.tls == TLSConfig(client_cert=CERT, client_private_key=KEY)


def test_settings_from_the_environment_configure_mtls(
    monkeypatch: pytest.MonkeyPatch, pems: dict[str, Path]
) -> None:
    monkeypatch.setenv("AFTERSALES_TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("AFTERSALES_TEMPORAL_TLS_CA_FILE", str(pems["ca"]))
    monkeypatch.setenv("AFTERSALES_TEMPORAL_TLS_CERT_FILE", str(pems["cert"]))
    monkeypatch.setenv("AFTERSALES_TEMPORAL_TLS_KEY_FILE", str(pems["key"]))
    # Compose passes what is unset as empty strings.
    monkeypatch.setenv("AFTERSALES_TEMPORAL_TLS_SERVER_NAME", "")
    monkeypatch.setenv("AFTERSALES_TEMPORAL_API_KEY", "")
    connection = temporal_connection(settings(), environ={})
    assert connection.target_host == "temporal.internal:7233"
    assert connection.api_key is None
    assert connection.tls == TLSConfig(
        server_root_ca_cert=CA, client_cert=CERT, client_private_key=KEY
    )


def test_tls_alone_uses_the_system_roots() -> None:
    assert temporal_connection(settings(temporal_tls=True), environ={}).tls == TLSConfig()


def test_tls_set_to_false_wins_over_everything_that_would_turn_it_on() -> None:
    environ = {"TEMPORAL_API_KEY": "k", "TEMPORAL_TLS_SERVER_NAME": "name"}
    assert temporal_connection(settings(temporal_tls=False), environ=environ).tls is False
    # Temporal's own switch is honoured when ours is unset.
    environ["TEMPORAL_TLS"] = "false"
    assert temporal_connection(settings(), environ=environ).tls is False
    # Ours wins over theirs.
    assert temporal_connection(settings(temporal_tls=True), environ=environ).tls == TLSConfig(
        domain="name"
    )


def test_a_client_certificate_without_its_key_is_refused(pems: dict[str, Path]) -> None:
    with pytest.raises(TemporalConnectionError, match="go together"):
        temporal_connection(settings(temporal_tls_cert_file=pems["cert"]), environ={})


def test_an_unreadable_certificate_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(TemporalConnectionError, match=r"nowhere\.pem"):
        temporal_connection(settings(temporal_tls_ca_file=missing), environ={})


def test_an_unknown_profile_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text('[profile.default]\naddress = "localhost:7233"\n')
    environ = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "staging"}
    with pytest.raises(TemporalConnectionError, match="staging"):
        temporal_connection(settings(), environ=environ)


def test_a_tls_setting_that_is_no_boolean_is_refused() -> None:
    with pytest.raises(ValidationError, match="temporal_tls"):
        settings(temporal_tls="perhaps")


def test_the_cli_refuses_a_broken_connection_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERSALES_", "TEMPORAL_"))}
    env |= {
        "AFTERSALES_ENV": "development",
        "AFTERSALES_TEMPORAL_TLS_CERT_FILE": str(tmp_path / "client.pem"),
        "AFTERSALES_TEMPORAL_TLS_KEY_FILE": str(tmp_path / "client.key"),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"aftersales: the Temporal client certificate: cannot read {tmp_path / 'client.pem'}: "
        "No such file or directory"
    )


async def test_the_api_answers_503_for_a_connection_it_cannot_make(tmp_path: Path) -> None:
    """Started without the CLI's check (uvicorn on the factory), the API still answers a
    problem, never a 500."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    try:
        resources = Resources(
            settings=settings(temporal_tls_cert_file=tmp_path / "client.pem"),
            engine=engine,
            sessions=make_sessionmaker(engine),
            documents=LocalDocumentStore(tmp_path),
            reader=ReadModelReader(engine),
        )
        with pytest.raises(Problem) as refused:
            await resources.temporal()
        assert (refused.value.status, refused.value.code) == (503, "temporal_unavailable")
    finally:
        await engine.dispose()
