"""A retailer's carrier and payment provider (api.md, "Integrations"). Keys are stored
encrypted and never returned; the workers pick a change up within
`activities.providers.CACHE_SECONDS`."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import OrgKind
from api.commands import answer_once, fingerprinted, setup_command_key
from api.deps import PrincipalDep, SecretBoxDep, SessionDep
from api.idempotency import IdempotencyKey
from api.schemas.integrations import (
    CarrierIntegrationIn,
    IntegrationPublic,
    IntegrationsPublic,
    PaymentsIntegrationIn,
)
from db import models
from db.integrations import integrations_of, put_integration
from domain.integrations import BUILTIN, IntegrationKind

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])


def _public(kind: IntegrationKind, row: models.Integration | None) -> IntegrationPublic:
    if row is None:
        return IntegrationPublic(
            kind=kind, provider=BUILTIN, key_last4=None, webhook_secret_set=False, updated_at=None
        )
    return IntegrationPublic(
        kind=kind,
        provider=row.provider,
        key_last4=row.key_last4,
        webhook_secret_set=row.webhook_secret_encrypted is not None,
        services=row.services,
        updated_at=row.updated_at,
    )


@router.get("", response_model=IntegrationsPublic)
async def get_integrations(principal: PrincipalDep, session: SessionDep) -> IntegrationsPublic:
    principal.require(OrgKind.RETAILER)
    rows = {row.kind: row for row in await integrations_of(session, principal.owner_id)}
    return IntegrationsPublic(
        carrier=_public(IntegrationKind.CARRIER, rows.get(IntegrationKind.CARRIER.value)),
        payments=_public(IntegrationKind.PAYMENTS, rows.get(IntegrationKind.PAYMENTS.value)),
    )


@router.put("/carrier", response_model=IntegrationPublic)
async def put_carrier(
    body: CarrierIntegrationIn,
    principal: PrincipalDep,
    session: SessionDep,
    box: SecretBoxDep,
    idempotency_key: IdempotencyKey = None,
) -> IntegrationPublic:
    """Set the carrier. A retry with the same `Idempotency-Key` gets the first answer and
    changes nothing (a change made since stays); the key's record holds the keys only as
    keyed fingerprints, never in clear."""
    principal.require(OrgKind.RETAILER)
    key = setup_command_key(
        idempotency_key,
        principal,
        "put_carrier",
        fingerprinted(body, box, "api_key", "webhook_secret"),
    )

    async def put() -> IntegrationPublic:
        row = await put_integration(
            session,
            box,
            principal.owner_id,
            IntegrationKind.CARRIER,
            provider=body.provider,
            api_key=body.api_key,
            webhook_secret=body.webhook_secret,
            services=body.services,
        )
        return _public(IntegrationKind.CARRIER, row)

    return await answer_once(session, key, IntegrationPublic, put)


@router.put("/payments", response_model=IntegrationPublic)
async def put_payments(
    body: PaymentsIntegrationIn,
    principal: PrincipalDep,
    session: SessionDep,
    box: SecretBoxDep,
    idempotency_key: IdempotencyKey = None,
) -> IntegrationPublic:
    """Set the payment provider; the `Idempotency-Key` as for the carrier."""
    principal.require(OrgKind.RETAILER)
    key = setup_command_key(
        idempotency_key,
        principal,
        "put_payments",
        fingerprinted(body, box, "secret_key", "webhook_secret"),
    )

    async def put() -> IntegrationPublic:
        row = await put_integration(
            session,
            box,
            principal.owner_id,
            IntegrationKind.PAYMENTS,
            provider=body.provider,
            api_key=body.secret_key,
            webhook_secret=body.webhook_secret,
            services=None,
        )
        return _public(IntegrationKind.PAYMENTS, row)

    return await answer_once(session, key, IntegrationPublic, put)
