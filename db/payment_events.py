"""Payment gateway events in the ledger: which entry an event is about, whose webhook secret
verifies it, and accepting it once (the event id is the primary key of `payment_events`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.integrations import credentials, integration
from db.secret_box import SecretBox
from db.types import utcnow
from domain.integrations import IntegrationKind

# The ledger entries that start a payment of their own at the gateway (a capture, release
# or refund acts on one of these and carries its reference too).
_STARTS_PAYMENT = ("charge", "deductible", "hold")
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Acceptance:
    duplicate: bool
    # The workflow to tell, when the event settled a payment waiting for its customer.
    workflow_id: str | None = None


async def payment_of_event(
    session: AsyncSession, reference: str, ledger_key: str
) -> models.Payment | None:
    """The ledger entry a gateway event is about: by the gateway's reference, or by our key
    for a payment whose answer the activity has not stored yet."""
    Payment = models.Payment
    if reference:
        row = await session.scalar(
            select(Payment)
            .where(Payment.gateway_reference == reference, Payment.kind.in_(_STARTS_PAYMENT))
            .order_by(Payment.created_at)
            .limit(1)
        )
        if row is not None:
            return row
    if ledger_key:
        return await session.scalar(select(Payment).where(Payment.idempotency_key == ledger_key))
    return None


async def payments_webhook_secret(
    session: AsyncSession, box: SecretBox, org_id: str, provider: str
) -> str:
    """The organisation's webhook secret with `provider`; empty when it has none there (it
    never configured the provider, or moved off it)."""
    row = await integration(session, org_id, IntegrationKind.PAYMENTS)
    if row is None or row.provider != provider:
        return ""
    return credentials(row, box).webhook_secret


async def accept_payment_event(
    session: AsyncSession,
    *,
    event_id: str,
    provider: str,
    event_type: str,
    payment: models.Payment,
    reference: str,
    settled: str,
    message: str,
    attempt: int,
) -> Acceptance:
    """Record the event and, when it settles the payment its customer was asked to
    authenticate (or whose answer is not stored yet), settle the ledger entry. Flushed, not
    committed: the caller tells the workflow, then commits, so that a failure to tell it
    leaves the event unrecorded for the gateway's retry."""
    session.add(
        models.PaymentEventRecord(
            event_id=event_id, provider=provider, type=event_type, gateway_reference=reference
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return Acceptance(duplicate=True)
    awaited = (payment.status == "requires_action" and payment.gateway_reference == reference) or (
        payment.status == "pending" and payment.attempts == attempt
    )
    if not settled or not awaited:
        # An off-session payment's own events, a capture's `succeeded`, an older attempt's
        # failure: the ledger has the answer already.
        return Acceptance(duplicate=False)
    payment.status = settled
    payment.gateway_reference = reference
    payment.action_url = ""
    payment.message = message[:_MESSAGE_LIMIT]
    payment.updated_at = utcnow()
    workflow_id = await session.scalar(
        select(models.Case.workflow_id).where(models.Case.id == payment.case_id)
    )
    await session.flush()
    return Acceptance(duplicate=False, workflow_id=workflow_id)
