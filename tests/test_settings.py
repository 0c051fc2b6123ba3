"""Settings: the AFTERSALES_ prefix, and secrets defaulted only in development."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import settings as settings_module
from cli import ROOT
from settings import (
    DEV_ADMIN_KEY,
    DEV_CARRIER_SECRET,
    DEV_PAYLOAD_KEY,
    DEV_SECRETS_KEY,
    Settings,
    parse_payload_keys,
)
from tests.support import PAYLOAD_KEY, SECRETS_KEY


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSALES_ENV", "development")
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
    monkeypatch.delenv("AFTERSALES_PAYLOAD_KEY", raising=False)
    monkeypatch.delenv("AFTERSALES_SECRETS_KEY", raising=False)
    with pytest.raises(ValidationError, match="AFTERSALES_ADMIN_KEY"):
        Settings(env=env)
    with pytest.raises(ValidationError, match="AFTERSALES_CARRIER_SECRET"):
        Settings(env=env, admin_key="k")
    with pytest.raises(
        ValidationError, match="AFTERSALES_PAYLOAD_KEY, AFTERSALES_SECRETS_KEY must"
    ):
        Settings(env=env, admin_key="k", carrier_secret="s")
    with pytest.raises(ValidationError, match="AFTERSALES_SECRETS_KEY must be set"):
        Settings(env=env, admin_key="k", carrier_secret="s", payload_key=PAYLOAD_KEY)
    settings = Settings(
        env=env, admin_key="k", carrier_secret="s", payload_key=PAYLOAD_KEY, secrets_key=SECRETS_KEY
    )
    assert settings.admin_key == "k"


def test_a_missing_environment_means_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENV", "ADMIN_KEY", "CARRIER_SECRET", "PAYLOAD_KEY", "SECRETS_KEY"):
        monkeypatch.delenv(f"AFTERSALES_{name}", raising=False)
    # A deployment that forgot AFTERSALES_ENV does not quietly run on development secrets.
    with pytest.raises(ValidationError, match="must be set outside development"):
        Settings()
    monkeypatch.setenv("AFTERSALES_ADMIN_KEY", "k")
    monkeypatch.setenv("AFTERSALES_CARRIER_SECRET", "s")
    monkeypatch.setenv("AFTERSALES_PAYLOAD_KEY", PAYLOAD_KEY)
    monkeypatch.setenv("AFTERSALES_SECRETS_KEY", SECRETS_KEY)
    settings = Settings()
    assert settings.env == "production"
    assert settings.webhook_allow_private_targets is False


@pytest.mark.parametrize("env", ["production", "test"])
def test_development_secrets_are_refused_outside_development(env: str) -> None:
    with pytest.raises(ValidationError, match="AFTERSALES_ADMIN_KEY: the development default"):
        Settings(
            env=env,
            admin_key=DEV_ADMIN_KEY,
            carrier_secret="s",
            payload_key=PAYLOAD_KEY,
            secrets_key=SECRETS_KEY,
        )
    with pytest.raises(ValidationError, match="AFTERSALES_CARRIER_SECRET: the development"):
        Settings(
            env=env,
            admin_key="k",
            carrier_secret=DEV_CARRIER_SECRET,
            payload_key=PAYLOAD_KEY,
            secrets_key=SECRETS_KEY,
        )


def test_the_dev_secret_files_are_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cli

    # Created with the mode, not chmod-ed after: there is no moment a wider mode is visible,
    # whatever the umask.
    def no_chmod(*_: object, **__: object) -> None:
        raise AssertionError("the secret file was chmod-ed after it was created")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    old_umask = os.umask(0)
    try:
        secret = cli._persistent_secret(tmp_path / "admin-key")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "admin-key").stat().st_mode) == 0o600
    assert len(secret) >= 32
    assert cli._persistent_secret(tmp_path / "admin-key") == secret  # kept across runs


def test_delivery_settings_read_iso_durations_and_an_empty_smtp_url_means_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTERSALES_ENV", "development")
    monkeypatch.setenv("AFTERSALES_DELIVERY_RETRY_WINDOW", "PT6H")
    monkeypatch.setenv("AFTERSALES_DELIVERY_FIRST_RETRY", "PT30S")
    monkeypatch.setenv("AFTERSALES_SMTP_URL", "")
    settings = Settings()
    assert settings.delivery_retry_window.total_seconds() == 6 * 3600
    assert settings.delivery_first_retry.total_seconds() == 30
    assert settings.smtp_url is None
    assert Settings.model_fields["delivery_retry_window"].default.days == 1  # a day by default


# ---------------------------------------------------------------------- payload keys

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))


def test_payload_keys_in_every_accepted_form() -> None:
    standard = base64.b64encode(KEY_A).decode()
    url_safe = base64.urlsafe_b64encode(KEY_B).decode().rstrip("=")  # secrets.token_urlsafe
    keys = parse_payload_keys(f" new:{url_safe} , old:{standard}")
    assert keys == (("new", KEY_B), ("old", KEY_A))  # the first encrypts
    # A bare key gets an id derived from it: the same on every process and every restart,
    # so it still decrypts once a new key is put in front of it.
    ((bare_id, bare),) = parse_payload_keys(standard)
    assert bare == KEY_A and bare_id == parse_payload_keys(standard)[0][0]
    assert parse_payload_keys(f"k2:{url_safe},{standard}")[1] == (bare_id, KEY_A)
    assert bare_id != parse_payload_keys(url_safe)[0][0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "AFTERSALES_PAYLOAD_KEY must be set"),
        (" , ", "holds no key"),
        (base64.b64encode(b"short").decode(), "entry 1 is not a base64 32-byte key"),
        ("k1:" + base64.b64encode(KEY_A).decode() + ",k2:not base64!", "entry 2 is not"),
        ("bad id:" + base64.b64encode(KEY_A).decode(), "a key id is 1-64"),
        (
            "k:" + base64.b64encode(KEY_A).decode() + ",k:" + base64.b64encode(KEY_B).decode(),
            "names key id 'k' twice",
        ),
    ],
)
def test_a_malformed_payload_key_refuses_to_start_without_echoing_it(
    value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as refused:
        Settings(
            env="production",
            admin_key="k",
            carrier_secret="s",
            payload_key=value,
            secrets_key=SECRETS_KEY,
        )
    secret_parts = [p.split(":")[-1] for p in value.split(",") if len(p.split(":")[-1]) > 6]
    assert all(part not in str(refused.value) for part in secret_parts)


def test_the_development_payload_key_is_refused_outside_development() -> None:
    dev_key = DEV_PAYLOAD_KEY.split(":")[1]
    for value in (DEV_PAYLOAD_KEY, f"prod:{base64.b64encode(KEY_A).decode()},{dev_key}"):
        with pytest.raises(ValidationError, match="the development key"):
            Settings(
                env="production",
                admin_key="k",
                carrier_secret="s",
                payload_key=value,
                secrets_key=SECRETS_KEY,
            )


def test_development_uses_the_key_make_run_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFTERSALES_PAYLOAD_KEY", raising=False)
    key_file = tmp_path / "payload-key"
    monkeypatch.setattr(settings_module, "DEV_PAYLOAD_KEY_FILE", key_file)
    assert Settings(env="development").payload_key == DEV_PAYLOAD_KEY
    key_file.write_text(PAYLOAD_KEY + "\n")
    assert Settings(env="development").payload_key == PAYLOAD_KEY


def test_the_cli_refuses_missing_secrets_in_one_line(tmp_path: Path) -> None:
    """Outside development a command without its secrets stops with one readable line (no
    traceback, no secret echoed) and a failing exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")} | {
        "AFTERSALES_CARRIER_SECRET": "a-real-looking-secret-value"
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "keys", "list", "--org", "Acme"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "AFTERSALES_ADMIN_KEY" in done.stderr and "must be set" in done.stderr
    assert "a-real-looking-secret-value" not in done.stderr


# ---------------------------------------------------------------------- secrets key


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "AFTERSALES_SECRETS_KEY must be set"),
        (base64.b64encode(b"short").decode(), "AFTERSALES_SECRETS_KEY entry 1 is not a base64"),
        (DEV_SECRETS_KEY, "AFTERSALES_SECRETS_KEY is the development key"),
    ],
)
def test_a_bad_secrets_key_refuses_to_start_without_echoing_it(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as refused:
        Settings(
            env="production",
            admin_key="k",
            carrier_secret="s",
            payload_key=PAYLOAD_KEY,
            secrets_key=value,
        )
    assert not value or value.split(":")[-1] not in str(refused.value)


def test_development_fills_in_the_secrets_key_from_the_file_make_run_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFTERSALES_SECRETS_KEY", raising=False)
    key_file = tmp_path / "secrets-key"
    monkeypatch.setattr(settings_module, "DEV_SECRETS_KEY_FILE", key_file)
    assert Settings(env="development").secrets_key == DEV_SECRETS_KEY
    key_file.write_text(SECRETS_KEY + "\n")
    assert Settings(env="development").secrets_key == SECRETS_KEY


def test_provider_api_bases_default_to_the_real_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSALES_ENV", "development")
    assert Settings().easypost_api_base is None and Settings().stripe_api_base is None
    monkeypatch.setenv("AFTERSALES_EASYPOST_API_BASE", "http://127.0.0.1:9999/easypost/")
    monkeypatch.setenv("AFTERSALES_STRIPE_API_BASE", "")
    settings = Settings()
    assert settings.easypost_api_base == "http://127.0.0.1:9999/easypost"
    assert settings.stripe_api_base is None


def test_production_refuses_the_cheapest_password_hashing() -> None:
    secrets: dict[str, Any] = {
        "admin_key": "k",
        "carrier_secret": "s",
        "payload_key": PAYLOAD_KEY,
        "secrets_key": SECRETS_KEY,
    }
    with pytest.raises(ValidationError, match="AFTERSALES_PASSWORD_HASHING=minimal is for tests"):
        Settings(env="production", password_hashing="minimal", **secrets)
    assert Settings(env="production", **secrets).password_hashing == "rfc9106"
    assert Settings(env="test", password_hashing="minimal", **secrets).password_hashing == "minimal"
