"""One settings object for every process, read from `AFTERSALES_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(".data")
# Development-only secrets: known to everyone, so refused outside development.
DEV_ADMIN_KEY = "dev-admin-key"
DEV_CARRIER_SECRET = "dev-carrier-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AFTERSALES_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite+aiosqlite:///{DATA_DIR}/aftersales.db"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "aftersales"
    public_base_url: str = "http://127.0.0.1:8000"
    document_dir: Path = DATA_DIR / "documents"
    admin_key: str | None = None
    carrier_secret: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    log_level: str = "INFO"
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

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        if self.env != "development":
            missing = [name for name in ("admin_key", "carrier_secret") if not getattr(self, name)]
            if missing:
                names = ", ".join(f"AFTERSALES_{n.upper()}" for n in missing)
                raise ValueError(f"{names} must be set outside development")
        else:
            self.admin_key = self.admin_key or DEV_ADMIN_KEY
            self.carrier_secret = self.carrier_secret or DEV_CARRIER_SECRET
        self.public_base_url = self.public_base_url.rstrip("/")
        if self.webhook_allow_private_targets is None:
            self.webhook_allow_private_targets = self.env != "production"
        # Compose passes an unset variable through as an empty string.
        self.smtp_url = self.smtp_url or None
        return self

    @property
    def required_admin_key(self) -> str:
        assert self.admin_key is not None  # filled by the validator
        return self.admin_key

    @property
    def required_carrier_secret(self) -> str:
        assert self.carrier_secret is not None
        return self.carrier_secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
