"""Schemas of an organisation's integrations: which carrier and payment provider it uses.
Keys go in and never come out: a view shows the provider and the key's last four
characters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from api.schemas.common import NO_CONTROL, Strict
from domain.integrations import BUILTIN, PROVIDERS, IntegrationKind

# Provider keys and webhook secrets are printable ASCII without spaces (EasyPost's `EZAK…`,
# Stripe's `sk_live_…`, `whsec_…`); the pattern also keeps control characters out.
Secret = Annotated[str, StringConstraints(min_length=8, max_length=200, pattern=r"^[!-~]+$")]
# A carrier's service name as it spells it (`Ground`, `Priority`, `FEDEX_GROUND`).
ServiceName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NO_CONTROL
]


def _known(kind: IntegrationKind) -> Callable[[str], str]:
    names = PROVIDERS[kind]

    def known(value: str) -> str:
        if value not in names:
            raise ValueError(f"not a {kind.value} provider; one of {', '.join(names)}")
        return value

    return known


CarrierProvider = Annotated[
    str,
    AfterValidator(_known(IntegrationKind.CARRIER)),
    Field(json_schema_extra={"enum": list(PROVIDERS[IntegrationKind.CARRIER])}),
]
PaymentsProvider = Annotated[
    str,
    AfterValidator(_known(IntegrationKind.PAYMENTS)),
    Field(json_schema_extra={"enum": list(PROVIDERS[IntegrationKind.PAYMENTS])}),
]


def _require_keys(provider: str, **keys: str | None) -> None:
    if provider == BUILTIN:
        return
    missing = [name for name, value in keys.items() if not value]
    if missing:
        raise ValueError(f"{' and '.join(missing)} required for provider {provider}")


class CarrierIntegrationIn(Strict):
    provider: CarrierProvider
    api_key: Secret | None = Field(default=None, description="required unless builtin")
    webhook_secret: Secret | None = Field(
        default=None, description="signs the provider's tracker events; required unless builtin"
    )
    services: Annotated[list[ServiceName], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="the services parcels may go with; unset: the carrier's own"
    )

    @model_validator(mode="after")
    def _keys(self) -> CarrierIntegrationIn:
        _require_keys(self.provider, api_key=self.api_key, webhook_secret=self.webhook_secret)
        return self


class PaymentsIntegrationIn(Strict):
    provider: PaymentsProvider
    secret_key: Secret | None = Field(default=None, description="required unless builtin")
    webhook_secret: Secret | None = Field(
        default=None, description="signs the provider's events; required unless builtin"
    )

    @model_validator(mode="after")
    def _keys(self) -> PaymentsIntegrationIn:
        _require_keys(self.provider, secret_key=self.secret_key, webhook_secret=self.webhook_secret)
        return self


class IntegrationPublic(BaseModel):
    """An integration as shown: never a key or a secret."""

    kind: IntegrationKind
    provider: str
    key_last4: str | None = Field(description="the key's last four characters")
    webhook_secret_set: bool
    services: list[str] | None = None
    updated_at: datetime | None = Field(description="None: never configured (built-in)")


class IntegrationsPublic(BaseModel):
    carrier: IntegrationPublic
    payments: IntegrationPublic
