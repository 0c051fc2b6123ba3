"""One settings object for every process, read from `AFTERSALES_*` environment variables."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(".data")
# Development-only secrets: known to everyone, so refused outside development.
DEV_ADMIN_KEY = "dev-admin-key"
DEV_CARRIER_SECRET = "dev-carrier-secret"
DEV_PAYLOAD_KEY = "dev:ZGV2ZWxvcG1lbnQgcGF5bG9hZCBrZXk6IHB1YmxpYyE="
DEV_SECRETS_KEY = "dev:ZGV2ZWxvcG1lbnQgc2VjcmV0cyBrZXksIHB1YmxpYyE="
# Where `aftersales dev` keeps the payload key it generated, so every later command of the
# same checkout (`aftersales history`, a worker started by hand) decrypts the same history.
DEV_PAYLOAD_KEY_FILE = DATA_DIR / "payload-key"
# The same for the key of the secrets stored in the database (integrations, webhooks).
DEV_SECRETS_KEY_FILE = DATA_DIR / "secrets-key"
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def parse_payload_keys(
    value: str, variable: str = "AFTERSALES_PAYLOAD_KEY"
) -> tuple[tuple[str, bytes], ...]:
    """`KEY_ID:BASE64,KEY_ID:BASE64,…` (or bare `BASE64` entries) as (key id, 32-byte key)
    pairs, the encrypting key first. A bare key's id is derived from the key itself, so an
    operator rotates by putting the new key in front and keeping the old one after it.
    `variable` names the setting in the messages (AFTERSALES_SECRETS_KEY has this format too)."""
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate((e.strip() for e in value.split(",")), start=1):
        if not entry:
            continue
        key_id, _, encoded = entry.rpartition(":")
        # Standard or URL-safe base64, padded or not (`secrets.token_urlsafe(32)` is neither
        # padded nor standard).
        text = encoded.strip().replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        # The message names the entry's position, never its text: it is a secret.
        if len(key) != 32:
            raise ValueError(f"{variable} entry {position} is not a base64 32-byte key")
        key_id = key_id.strip() or "k" + hashlib.sha256(key).hexdigest()[:12]
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError(f"{variable} entry {position}: a key id is 1-64 of A-Z a-z 0-9 . _ -")
        if key_id in (known for known, _ in keys):
            raise ValueError(f"{variable} names key id {key_id!r} twice")
        keys.append((key_id, key))
    if not keys:
        raise ValueError(f"{variable} holds no key")
    return tuple(keys)


class Settings(BaseSettings):
    # A refusal must not print the input: it holds the secrets.
    model_config = SettingsConfigDict(
        env_prefix="AFTERSALES_", extra="ignore", hide_input_in_errors=True
    )

    # Unset means production: a deployment that forgot the variable must not run on the
    # development secrets. `aftersales dev` (`make run`) sets it to development.
    env: Literal["development", "test", "production"] = "production"
    database_url: str = f"sqlite+aiosqlite:///{DATA_DIR}/aftersales.db"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    # The rest of the Temporal connection (Temporal Cloud, a server behind TLS); each set here
    # wins over Temporal's own TEMPORAL_* variables and temporal.toml profile, which win over
    # the defaults (see temporal_connection.py). An API key or any TLS file turns TLS on.
    temporal_api_key: str | None = Field(default=None, repr=False)
    temporal_tls: bool | None = None
    temporal_tls_server_name: str | None = None
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    # How long a stopping worker (SIGTERM) lets its running activities finish before it
    # cancels them; Temporal retries what was cancelled on another worker.
    worker_shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    # Whether the worker runs workflows in the SDK's sandbox. Off saves CPU per workflow task
    # (measured in docs/benchmarks.md) and gives up little: the workflow modules are passed
    # through it already (worker.PASSED_THROUGH), so their calls are not checked there. The
    # checks that catch non-determinism run in the workflow tests and the replay tests,
    # which always sandbox, whatever this says.
    workflow_sandbox: bool = True
    task_queue: str = "aftersales"
    public_base_url: str = "http://127.0.0.1:8000"
    document_dir: Path = DATA_DIR / "documents"
    # Where PDFs live: `local` (document_dir) or `s3` (a bucket of S3 or an S3-compatible
    # store; credentials from the standard AWS chain: AWS_* variables, a profile, a role).
    document_store: Literal["local", "s3"] = "local"
    document_s3_bucket: str | None = None
    document_s3_prefix: str = ""
    document_s3_endpoint_url: str | None = None
    document_s3_region: str | None = None
    # How the API hands a stored PDF out: `stream` (through the API) or `redirect` (a 307 to
    # a presigned URL valid `document_url_ttl_seconds`; S3 only, the local store streams).
    document_delivery: Literal["stream", "redirect"] = "stream"
    document_url_ttl_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    admin_key: str | None = None
    carrier_secret: str | None = None
    # Encrypts every Temporal payload (workflow inputs and results, signals, updates, activity
    # arguments, failure messages) with AES-256-GCM: see parse_payload_keys for the format.
    payload_key: str | None = Field(default=None, repr=False)
    # Encrypts the secrets kept in the database (integration credentials, webhook signing
    # secrets): the same format as payload_key, the first key encrypts, every key decrypts.
    secrets_key: str | None = Field(default=None, repr=False)
    # Where the EasyPost and Stripe adapters send their requests; unset, the providers' own
    # endpoints (tests point them at a local stub).
    easypost_api_base: str | None = None
    stripe_api_base: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    log_level: str = "INFO"
    # `json` (one JSON object a line) or `console` (readable); unset, console in development
    # (`make run`) and JSON elsewhere.
    log_format: Literal["json", "console"] | None = None
    # OpenTelemetry tracing: true or false here wins; unset, the standard OTEL_* variables
    # decide (an exporter or an OTLP endpoint named turns it on; see observability/tracing.py).
    tracing: bool | None = None
    # How long an API call waits for a workflow's answer (the RMA decision, a command's
    # result) before answering 503; the workflow goes on and a retry finds its answer.
    decision_timeout_seconds: float = 20.0
    # Customer emails: sent through this SMTP server (`smtp://user:pass@host:587`, STARTTLS
    # when the server offers it; `smtps://` for implicit TLS). Unset, they stay in the
    # outbox table, listed by `aftersales outbox`.
    smtp_url: str | None = None
    email_from: str = "aftersales <no-reply@aftersales.invalid>"
    # Webhook deliveries and emails retry with exponential backoff from `delivery_first_retry`
    # until `delivery_retry_window` after the event, then count as failed (ISO 8601 durations).
    delivery_retry_window: timedelta = timedelta(days=1)
    delivery_first_retry: timedelta = timedelta(seconds=10)
    # Webhook URLs on loopback or private networks: allowed in development and tests (a
    # receiver on this machine), refused in production unless set to true.
    webhook_allow_private_targets: bool | None = None
    # Active webhook subscriptions an organisation may have: every event fans out to each.
    webhook_quota: int = Field(default=50, ge=1)
    # Prometheus: the worker serves /metrics on this port (0: none) of `worker_metrics_host`,
    # unset meaning loopback in development and tests and every interface in production (a
    # container's port, published or scraped on its own network).
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    worker_metrics_host: str | None = None
    # The Bearer token the API's /metrics asks for; unset, it is open like /healthz.
    metrics_token: str | None = Field(default=None, repr=False)
    # Console sign-ins end after this long unused, and this long after they began whatever
    # happens (ISO 8601 durations).
    console_session_idle: timedelta = timedelta(hours=2)
    console_session_max: timedelta = timedelta(hours=12)
    # How console passwords are hashed: `rfc9106` is argon2id with RFC 9106's second
    # recommended parameters; `minimal` is argon2id at its cheapest, for test suites that make
    # users by the hundred, and refused in production. A hash carries its own parameters, so
    # either setting verifies the other's hashes.
    password_hashing: Literal["rfc9106", "minimal"] = "rfc9106"

    @field_validator(
        "temporal_api_key",
        "temporal_tls",
        "temporal_tls_server_name",
        "temporal_tls_ca_file",
        "temporal_tls_cert_file",
        "temporal_tls_key_file",
        "document_s3_bucket",
        "document_s3_endpoint_url",
        "document_s3_region",
        "log_format",
        "tracing",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose passes an unset variable through as an empty string.
        return None if value == "" else value

    @model_validator(mode="after")
    def _document_bucket(self) -> Settings:
        if self.document_store == "s3" and not self.document_s3_bucket:
            raise ValueError("AFTERSALES_DOCUMENT_STORE=s3 needs AFTERSALES_DOCUMENT_S3_BUCKET")
        self.document_s3_prefix = self.document_s3_prefix.strip("/")
        return self

    @model_validator(mode="after")
    def _password_hashing(self) -> Settings:
        if self.env == "production" and self.password_hashing != "rfc9106":
            raise ValueError("AFTERSALES_PASSWORD_HASHING=minimal is for tests, not production")
        return self

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        if self.env != "development":
            missing = [
                name
                for name in ("admin_key", "carrier_secret", "payload_key", "secrets_key")
                if not getattr(self, name)
            ]
            if missing:
                names = ", ".join(f"AFTERSALES_{n.upper()}" for n in missing)
                raise ValueError(f"{names} must be set outside development")
            known = [
                name
                for name, dev_value in (
                    ("admin_key", DEV_ADMIN_KEY),
                    ("carrier_secret", DEV_CARRIER_SECRET),
                )
                if getattr(self, name) == dev_value
            ]
            if known:
                names = ", ".join(f"AFTERSALES_{n.upper()}" for n in known)
                raise ValueError(f"{names}: the development default is refused outside development")
        else:
            self.admin_key = self.admin_key or DEV_ADMIN_KEY
            self.carrier_secret = self.carrier_secret or DEV_CARRIER_SECRET
            if not self.payload_key and DEV_PAYLOAD_KEY_FILE.is_file():
                self.payload_key = DEV_PAYLOAD_KEY_FILE.read_text().strip()
            self.payload_key = self.payload_key or DEV_PAYLOAD_KEY
            if not self.secrets_key and DEV_SECRETS_KEY_FILE.is_file():
                self.secrets_key = DEV_SECRETS_KEY_FILE.read_text().strip()
            self.secrets_key = self.secrets_key or DEV_SECRETS_KEY
        for variable, value, dev_value in (
            ("AFTERSALES_PAYLOAD_KEY", self.payload_key, DEV_PAYLOAD_KEY),
            ("AFTERSALES_SECRETS_KEY", self.secrets_key, DEV_SECRETS_KEY),
        ):
            keys = parse_payload_keys(value or "", variable)
            if self.env != "development":
                dev_key = parse_payload_keys(dev_value)[0][1]
                if any(key == dev_key for _, key in keys):
                    raise ValueError(f"{variable} is the development key")
        self.public_base_url = self.public_base_url.rstrip("/")
        if self.webhook_allow_private_targets is None:
            self.webhook_allow_private_targets = self.env != "production"
        # Compose passes an unset variable through as an empty string.
        self.smtp_url = self.smtp_url or None
        self.metrics_token = self.metrics_token or None
        if not self.worker_metrics_host:
            local = self.env in ("development", "test")
            self.worker_metrics_host = "127.0.0.1" if local else "0.0.0.0"
        self.easypost_api_base = (self.easypost_api_base or "").rstrip("/") or None
        self.stripe_api_base = (self.stripe_api_base or "").rstrip("/") or None
        return self

    @property
    def required_admin_key(self) -> str:
        assert self.admin_key is not None  # filled by the validator
        return self.admin_key

    @property
    def required_carrier_secret(self) -> str:
        assert self.carrier_secret is not None
        return self.carrier_secret

    @property
    def required_payload_key(self) -> str:
        assert self.payload_key is not None  # filled or required by the validator
        return self.payload_key

    @property
    def required_secrets_key(self) -> str:
        assert self.secrets_key is not None  # filled or required by the validator
        return self.secrets_key

    @property
    def required_worker_metrics_host(self) -> str:
        assert self.worker_metrics_host is not None  # filled by the validator
        return self.worker_metrics_host


@lru_cache
def get_settings() -> Settings:
    return Settings()
