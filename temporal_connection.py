"""Where and how every process reaches Temporal: address, namespace, TLS, mTLS, API key.

Three sources, the first that says something wins, field by field:

1. our settings, when set (`AFTERSALES_TEMPORAL_*`);
2. Temporal's own environment configuration (`temporalio.envconfig`): the `TEMPORAL_*`
   variables (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`,
   `TEMPORAL_TLS_*`, …) over the profile `TEMPORAL_PROFILE` (default `default`) of the TOML
   file `TEMPORAL_CONFIG_FILE` (default `~/.config/temporalio/temporal.toml`), so a profile
   written by `temporal config set` works unchanged;
3. our defaults (`127.0.0.1:7233`, namespace `default`, no TLS).

TLS is on when anything asks for it (a CA, a server name, a client certificate, an API key,
or TLS set to true) unless TLS is explicitly set to false, as the Temporal SDKs and CLI do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, DataSource
from temporalio.service import TLSConfig

from settings import Settings


class TemporalConnectionError(ValueError):
    """The connection settings contradict each other, or a certificate cannot be read."""


@dataclass(frozen=True)
class TemporalConnection:
    """The keyword arguments of `Client.connect` besides the data converter."""

    target_host: str
    namespace: str
    tls: bool | TLSConfig = False
    api_key: str | None = field(default=None, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)

    def connect_kwargs(self) -> dict[str, Any]:
        return {
            "target_host": self.target_host,
            "namespace": self.namespace,
            "tls": self.tls,
            "api_key": self.api_key,
            "rpc_metadata": self.rpc_metadata,
        }


def _explicit(settings: Settings, name: str) -> Any:
    """The setting's value if the environment (or the caller) set it, else None: a default
    must not hide what Temporal's own configuration says."""
    return getattr(settings, name) if name in settings.model_fields_set else None


def _read(source: DataSource | None, what: str) -> bytes | None:
    if source is None:
        return None
    if isinstance(source, Path):
        try:
            return source.read_bytes()
        except OSError as exc:
            raise TemporalConnectionError(f"{what}: cannot read {source}: {exc.strerror}") from None
    return source.encode() if isinstance(source, str) else source


def _tls(
    settings: Settings, profile_tls: ClientConfigTLS | None, api_key: str | None
) -> bool | TLSConfig:
    theirs = profile_tls or ClientConfigTLS()
    server_name = settings.temporal_tls_server_name or theirs.server_name
    ca: DataSource | None = settings.temporal_tls_ca_file or theirs.server_root_ca_cert
    cert: DataSource | None = settings.temporal_tls_cert_file or theirs.client_cert
    key: DataSource | None = settings.temporal_tls_key_file or theirs.client_private_key
    if (cert is None) != (key is None):
        raise TemporalConnectionError(
            "a Temporal client certificate and its private key go together: set both "
            "AFTERSALES_TEMPORAL_TLS_CERT_FILE and AFTERSALES_TEMPORAL_TLS_KEY_FILE "
            "(or TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)"
        )
    if settings.temporal_tls is not None:
        enabled: bool | None = settings.temporal_tls
    else:
        enabled = None if theirs.disabled is None else not theirs.disabled
    if enabled is False:
        return False
    asked = any(v is not None for v in (server_name, ca, cert)) or api_key is not None
    if not (enabled or asked):
        return False
    return TLSConfig(
        domain=server_name,
        server_root_ca_cert=_read(ca, "the Temporal server's CA certificate"),
        client_cert=_read(cert, "the Temporal client certificate"),
        client_private_key=_read(key, "the Temporal client private key"),
    )


def temporal_connection(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> TemporalConnection:
    """The connection `settings` and Temporal's env-config describe. `environ` stands for
    the process environment (tests pass their own, with a `TEMPORAL_CONFIG_FILE`)."""
    try:
        profile = ClientConfigProfile.load(override_env_vars=environ)
    except Exception as exc:  # the SDK's ConfigError is not importable from its public API
        raise TemporalConnectionError(f"Temporal's client configuration: {exc}") from None
    api_key = settings.temporal_api_key or profile.api_key
    return TemporalConnection(
        target_host=_explicit(settings, "temporal_address")
        or profile.address
        or settings.temporal_address,
        namespace=_explicit(settings, "temporal_namespace")
        or profile.namespace
        or settings.temporal_namespace,
        tls=_tls(settings, profile.tls, api_key),
        api_key=api_key,
        rpc_metadata=dict(profile.grpc_meta),
    )
