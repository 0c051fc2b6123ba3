"""Each organisation's carrier and payment gateway, as it configured them
(PUT /v1/integrations/...), the built-in ones when it configured none.

A provider is an adapter module (activities/carriers/, activities/gateways/) and one line
in CARRIERS or GATEWAYS below; the API accepts the names in domain.integrations.PROVIDERS.

Adapters are built from decrypted credentials and kept per organisation for
`CACHE_SECONDS`; after that the integration's version (provider and `updated_at`) is read
again and the adapter rebuilt only if it changed. So a worker picks up a new key within
`CACHE_SECONDS` of the PUT, and a busy organisation costs one small query per period."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.carriers import Carrier
from activities.carriers.builtin import BuiltinCarrier
from activities.carriers.easypost import NAME as EASYPOST
from activities.carriers.easypost import EasyPostCarrier
from activities.credentials import ProviderCredentials
from activities.gateways import PaymentGateway
from activities.gateways.builtin import BuiltinGateway
from activities.gateways.stripe import STRIPE, StripeGateway
from db.integrations import Version, credentials, integration, integration_version
from db.secret_box import SecretBox
from domain.integrations import BUILTIN, IntegrationKind

# Like api.auth.KEY_CACHE_SECONDS: how long a changed key may go unnoticed by a worker.
CACHE_SECONDS = 30.0

CARRIERS: dict[str, Callable[[ProviderCredentials], Carrier]] = {
    BUILTIN: lambda _: BuiltinCarrier(),
    EASYPOST: lambda c: EasyPostCarrier(c.api_key, c.services, c.api_base),
}
GATEWAYS: dict[str, Callable[[ProviderCredentials], PaymentGateway]] = {
    # The built-in gateway's "API" is our own: its stand-in bank page is served by the API.
    BUILTIN: lambda c: BuiltinGateway(c.api_base) if c.api_base else BuiltinGateway(),
    STRIPE: lambda account: StripeGateway(account.api_key, account.api_base),
}

A = TypeVar("A")


class UnknownProvider(LookupError):
    """An integration names a provider this build has no adapter for."""


@dataclass
class _Held(Generic[A]):
    version: Version | None
    adapter: A
    until: float


class Providers:
    """What CarrierActivities and PaymentActivities ask for an organisation's adapter."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        api_bases: Mapping[str, str | None] | None = None,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.box = box
        # By provider name, e.g. {"easypost": settings.easypost_api_base}.
        self.api_bases = dict(api_bases or {})
        self.ttl = ttl
        self.clock = clock
        self._carriers: dict[str, _Held[Carrier]] = {}
        self._gateways: dict[str, _Held[PaymentGateway]] = {}

    async def carrier_for(self, org_id: str) -> Carrier:
        return await self._adapter(org_id, IntegrationKind.CARRIER, CARRIERS, self._carriers)

    async def gateway_for(self, org_id: str) -> PaymentGateway:
        return await self._adapter(org_id, IntegrationKind.PAYMENTS, GATEWAYS, self._gateways)

    def forget(self, org_id: str) -> None:
        """Drop what is held for the organisation: its next call reads its settings."""
        self._carriers.pop(org_id, None)
        self._gateways.pop(org_id, None)

    async def _adapter(
        self,
        org_id: str,
        kind: IntegrationKind,
        factories: Mapping[str, Callable[[ProviderCredentials], A]],
        held: dict[str, _Held[A]],
    ) -> A:
        now = self.clock()
        known = held.get(org_id)
        if known is not None and known.until > now:
            return known.adapter
        async with self.sessions() as session:
            version = await integration_version(session, org_id, kind)
            if known is not None and known.version == version:
                known.until = now + self.ttl
                return known.adapter
            adapter = await self._build(session, org_id, kind, version, factories)
        held[org_id] = _Held(version, adapter, now + self.ttl)
        return adapter

    async def _build(
        self,
        session: AsyncSession,
        org_id: str,
        kind: IntegrationKind,
        version: Version | None,
        factories: Mapping[str, Callable[[ProviderCredentials], A]],
    ) -> A:
        row = None if version is None else await integration(session, org_id, kind)
        if row is None:
            return factories[BUILTIN](
                ProviderCredentials(BUILTIN, api_base=self.api_bases.get(BUILTIN))
            )
        factory = factories.get(row.provider)
        if factory is None:
            raise UnknownProvider(f"no {kind.value} adapter named {row.provider!r}")
        stored = credentials(row, self.box)
        return factory(
            ProviderCredentials(
                provider=stored.provider,
                api_key=stored.api_key,
                webhook_secret=stored.webhook_secret,
                services=stored.services,
                api_base=self.api_bases.get(stored.provider),
            )
        )
