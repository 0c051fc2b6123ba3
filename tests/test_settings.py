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
