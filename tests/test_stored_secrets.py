"""Rotating AFTERSALES_SECRETS_KEY: `aftersales rotate-secrets` (db.stored_secrets)
re-encrypts every stored secret under the first key, after which the old key can go; a
value no key opens stops it before anything changes."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cli import ROOT, migrate
from db import models
from db.integrations import credentials, put_integration
from db.secret_box import SecretBox, SecretUnreadable
from db.session import make_engine, make_sessionmaker
from domain.integrations import IntegrationKind
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY

OLD = "old:" + base64.b64encode(bytes(range(32))).decode()
NEW = "new:" + base64.b64encode(bytes(range(32, 64))).decode()
STRANGER = "other:" + base64.b64encode(bytes(range(64, 96))).decode()


async def _seed(url: str, box: SecretBox) -> None:
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as session:
        org = models.Organisation(name="Shop", kind="retailer")
        session.add(org)
        await session.flush()
        session.add(
            models.Integration(
                org_id=org.id,
                kind="carrier",
                provider="easypost",
                api_key_encrypted=box.encrypt("EZTK-api-key"),
                webhook_secret_encrypted=box.encrypt("ep-hook"),
                key_last4="-key",
            )
        )
        session.add(
            models.WebhookSubscription(
                org_id=org.id,
                url="https://hooks.example/in",
                events=["*"],
                secret=box.encrypt("whsec_now"),
                previous_secret=box.encrypt("whsec_before"),
            )
        )
    await engine.dispose()


async def _opened(url: str, box: SecretBox) -> list[str]:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        integration = (await session.scalars(select(models.Integration))).one()
        sub = (await session.scalars(select(models.WebhookSubscription))).one()
        tokens = [
            integration.api_key_encrypted,
            integration.webhook_secret_encrypted,
            sub.secret,
            sub.previous_secret,
        ]
    await engine.dispose()
    return [box.decrypt(token or "") for token in tokens]


def _rotate(url: str, secrets_key: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")} | {
        "AFTERSALES_ENV": "test",
        "AFTERSALES_DATABASE_URL": url,
        "AFTERSALES_ADMIN_KEY": ADMIN_KEY,
        "AFTERSALES_CARRIER_SECRET": CARRIER_SECRET,
        "AFTERSALES_PAYLOAD_KEY": PAYLOAD_KEY,
        "AFTERSALES_SECRETS_KEY": secrets_key,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "rotate-secrets"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_rotate_secrets_moves_every_stored_secret_to_the_first_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/rotate.db"
    await _seed(url, SecretBox.from_setting(OLD))
    done = await asyncio.to_thread(_rotate, url, f"{NEW},{OLD}")
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 4 stored secrets" in done.stdout
    # The old key may now be dropped: the new one alone opens everything.
    expected = ["EZTK-api-key", "ep-hook", "whsec_now", "whsec_before"]
    assert await _opened(url, SecretBox.from_setting(NEW)) == expected
    with pytest.raises(SecretUnreadable):
        await _opened(url, SecretBox.from_setting(OLD))


async def test_a_secret_no_key_opens_stops_the_rotation_with_nothing_changed(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/rotate.db"
    await _seed(url, SecretBox.from_setting(OLD))
    refused = await asyncio.to_thread(_rotate, url, f"{NEW},{STRANGER}")
    assert refused.returncode == 1
    assert "nothing was changed" in refused.stderr and "Traceback" not in refused.stderr
    expected = ["EZTK-api-key", "ep-hook", "whsec_now", "whsec_before"]
    assert await _opened(url, SecretBox.from_setting(OLD)) == expected


async def test_a_put_writes_over_an_integration_no_key_opens_any_more(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/rotate.db"
    await _seed(url, SecretBox.from_setting(STRANGER))
    box = SecretBox.from_setting(NEW)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        org_id = (await session.scalars(select(models.Organisation.id))).one()
        row = await put_integration(
            session,
            box,
            org_id,
            IntegrationKind.CARRIER,
            provider="easypost",
            api_key="EZTK-api-key",
            webhook_secret="ep-hook",
            services=None,
        )
        assert credentials(row, box).api_key == "EZTK-api-key"
    await engine.dispose()
