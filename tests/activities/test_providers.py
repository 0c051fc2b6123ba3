"""activities.providers: an organisation without an integration gets the built-in carrier
and gateway; one with an integration gets its provider's adapter, built from the decrypted
credentials; the adapter is kept for the cache period and rebuilt once the integration
changes. On SQLite, and on PostgreSQL too when AFTERSALES_TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities import providers as providers_module
from activities.carriers.builtin import BuiltinCarrier
from activities.credentials import ProviderCredentials
from activities.gateways.builtin import BuiltinGateway
from activities.providers import CARRIERS, GATEWAYS, Providers, UnknownProvider
from cli import migrate
from db import models
from db.integrations import put_integration
from db.secret_box import SecretBox
from db.session import make_engine, make_sessionmaker
from domain.integrations import PROVIDERS, IntegrationKind
from tests.support import SECRETS_KEY, database_url_for_tests, postgres_database

BOX = SecretBox.from_setting(SECRETS_KEY)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Built:
    """A stand-in adapter that remembers what it was built with."""

    name = "recording"

    def __init__(self, credentials: ProviderCredentials) -> None:
        self.credentials = credentials


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/providers.db"
        return
    base = database_url_for_tests()
    if base is None:
        pytest.skip("AFTERSALES_TEST_DATABASE_URL is not set")
    with postgres_database(base) as url:
        yield url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await asyncio.to_thread(migrate, database_url)
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Built]:
    """Every adapter the registry builds for provider `recording`, in order."""
    made: list[Built] = []

    def factory(credentials: ProviderCredentials) -> Built:
        made.append(Built(credentials))
        return made[-1]

    monkeypatch.setitem(providers_module.CARRIERS, "recording", factory)
    monkeypatch.setitem(providers_module.GATEWAYS, "recording", factory)
    return made


async def _org(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions.begin() as session:
        org = models.Organisation(name="Shop", kind="retailer")
        session.add(org)
    return org.id


async def _configure(
    sessions: async_sessionmaker[AsyncSession],
    org_id: str,
    kind: IntegrationKind,
    provider: str = "recording",
    api_key: str = "key-00000001",
    services: list[str] | None = None,
) -> None:
    async with sessions() as session:
        await put_integration(
            session,
            BOX,
            org_id,
            kind,
            provider=provider,
            api_key=api_key,
            webhook_secret="hook-secret-1",
            services=services,
        )


def test_every_provider_the_api_accepts_has_an_adapter() -> None:
    assert set(CARRIERS) == set(PROVIDERS[IntegrationKind.CARRIER])
    assert set(GATEWAYS) == set(PROVIDERS[IntegrationKind.PAYMENTS])


async def test_an_organisation_without_integrations_gets_the_builtins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    registry = Providers(sessions, BOX)
    org_id = await _org(sessions)
    assert isinstance(await registry.carrier_for(org_id), BuiltinCarrier)
    assert isinstance(await registry.gateway_for(org_id), BuiltinGateway)


async def test_the_configured_provider_is_built_with_its_decrypted_credentials(
    sessions: async_sessionmaker[AsyncSession], built: list[Built]
) -> None:
    registry = Providers(sessions, BOX, {"recording": "http://127.0.0.1:9/stub"})
    org_id = await _org(sessions)
    other_id = await _org(sessions)
    await _configure(sessions, org_id, IntegrationKind.CARRIER, services=["Ground"])
    carrier = await registry.carrier_for(org_id)
    assert isinstance(carrier, Built)
    assert carrier.credentials == ProviderCredentials(
        provider="recording",
        api_key="key-00000001",
        webhook_secret="hook-secret-1",
        services=("Ground",),
        api_base="http://127.0.0.1:9/stub",
    )
    # Its secrets never show in a repr (a log line, a traceback's locals).
    assert "key-00000001" not in repr(carrier.credentials)
    assert "hook-secret-1" not in repr(carrier.credentials)
    # Only the kind configured, only for that organisation.
    assert isinstance(await registry.gateway_for(org_id), BuiltinGateway)
    assert isinstance(await registry.carrier_for(other_id), BuiltinCarrier)


async def test_an_adapter_is_kept_then_rebuilt_once_its_integration_changes(
    sessions: async_sessionmaker[AsyncSession], built: list[Built]
) -> None:
    clock = Clock()
    registry = Providers(sessions, BOX, ttl=30, clock=clock)
    org_id = await _org(sessions)
    await _configure(sessions, org_id, IntegrationKind.PAYMENTS)
    first = await registry.gateway_for(org_id)
    assert await registry.gateway_for(org_id) is first
    assert len(built) == 1

    # Past the cache period with nothing changed: the same adapter (its connections kept).
    clock.now += 31
    assert await registry.gateway_for(org_id) is first
    assert len(built) == 1

    # A new key: still the old adapter within the period, the new one after it.
    await _configure(sessions, org_id, IntegrationKind.PAYMENTS, api_key="key-00000002")
    clock.now += 10
    assert await registry.gateway_for(org_id) is first
    clock.now += 31
    second = await registry.gateway_for(org_id)
    assert isinstance(second, Built) and second is not first
    assert second.credentials.api_key == "key-00000002"

    # Back to the built-in gateway; `forget` makes it count at once.
    await _configure(sessions, org_id, IntegrationKind.PAYMENTS, provider="builtin")
    registry.forget(org_id)
    assert isinstance(await registry.gateway_for(org_id), BuiltinGateway)


async def test_a_provider_without_an_adapter_is_named_in_the_error(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org_id = await _org(sessions)
    await _configure(sessions, org_id, IntegrationKind.CARRIER, provider="retired-carrier")
    with pytest.raises(UnknownProvider, match="retired-carrier"):
        await Providers(sessions, BOX).carrier_for(org_id)
