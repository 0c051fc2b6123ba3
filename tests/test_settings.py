"""Settings: the AFTERSALES_ prefix, and secrets defaulted only in development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings import DEV_ADMIN_KEY, Settings


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSALES_TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("AFTERSALES_PUBLIC_BASE_URL", "https://returns.example.com/")
    settings = Settings()
    assert settings.temporal_address == "temporal.internal:7233"
    assert settings.public_base_url == "https://returns.example.com"  # no trailing slash


def test_development_fills_in_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTERSALES_ADMIN_KEY", raising=False)
    assert Settings(env="development").admin_key == DEV_ADMIN_KEY


@pytest.mark.parametrize("env", ["production", "test"])
def test_secrets_are_required_outside_development(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFTERSALES_ADMIN_KEY", raising=False)
    monkeypatch.delenv("AFTERSALES_CARRIER_SECRET", raising=False)
    with pytest.raises(ValidationError, match="AFTERSALES_ADMIN_KEY"):
        Settings(env=env)
    with pytest.raises(ValidationError, match="AFTERSALES_CARRIER_SECRET"):
        Settings(env=env, admin_key="k")
    assert Settings(env=env, admin_key="k", carrier_secret="s").admin_key == "k"


def test_delivery_settings_read_iso_durations_and_an_empty_smtp_url_means_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTERSALES_DELIVERY_RETRY_WINDOW", "PT6H")
    monkeypatch.setenv("AFTERSALES_DELIVERY_FIRST_RETRY", "PT30S")
    monkeypatch.setenv("AFTERSALES_SMTP_URL", "")
    settings = Settings()
    assert settings.delivery_retry_window.total_seconds() == 6 * 3600
    assert settings.delivery_first_retry.total_seconds() == 30
    assert settings.smtp_url is None
    assert Settings.model_fields["delivery_retry_window"].default.days == 1  # a day by default
