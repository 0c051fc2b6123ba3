"""Payment gateway adapter and the payments ledger: every money movement once per key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import stubs
from activities.bad_data import refuses_bad_data
from activities.gateways import GatewayAnswer, PaymentGateway
from activities.gateways.builtin import BuiltinGateway
from db import models
from db.types import utcnow
from domain.contracts.payments import PAYMENT_DECLINED, PaymentKind, PaymentRequest, PaymentResult

__all__ = ["BuiltinGateway", "GatewayAnswer", "PaymentActivities", "PaymentGateway"]


class PaymentActivities(stubs.PaymentActivities):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: PaymentGateway) -> None:
        self.sessions = sessions
        self.gateway = gateway

    @activity.defn
    @refuses_bad_data
    async def execute_payment(self, request: PaymentRequest) -> PaymentResult:
        """Charge, refund, hold, capture or release once per idempotency key.

        A decline is a business answer, not a fault: it raises a non-retryable
        `PaymentDeclined` and the workflow decides what follows (dunning, payment_failed)."""
        payment = await self._claim(request)
        if payment.status == "succeeded":
            return _result(payment)
        answer = await self.gateway.execute(
            request.idempotency_key,
            request.kind,
            request.amount,
            request.currency,
            request.payment_method,
            payment.attempts,
        )
        async with self.sessions.begin() as session:
            row = await session.get(models.Payment, payment.id, with_for_update=True)
            assert row is not None
            row.status = "succeeded" if answer.approved else "declined"
            row.gateway_reference = answer.reference
            row.updated_at = utcnow()
            result = _result(row)
        if not answer.approved:
            raise ApplicationError(
                answer.message or "payment declined",
                request.kind.value,
                type=PAYMENT_DECLINED,
                non_retryable=True,
            )
        return result

    async def _claim(self, request: PaymentRequest) -> models.Payment:
        """The ledger row for this key, with one more attempt counted unless already paid."""
        now = utcnow()
        try:
            async with self.sessions.begin() as session:
                session.add(
                    models.Payment(
                        org_id=request.org_id,
                        case_id=request.case_id,
                        idempotency_key=request.idempotency_key,
                        kind=request.kind.value,
                        amount=request.amount,
                        currency=request.currency,
                        payment_method=request.payment_method,
                        status="pending",
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            pass
        async with self.sessions.begin() as session:
            row = await session.scalar(
                select(models.Payment)
                .where(models.Payment.idempotency_key == request.idempotency_key)
                .with_for_update()
            )
            assert row is not None
            if row.status != "succeeded":
                row.attempts += 1
                # A new payment method (dunning) is used for the next attempt.
                row.payment_method = request.payment_method
                row.updated_at = now
            return row


def _result(row: models.Payment) -> PaymentResult:
    return PaymentResult(
        payment_id=row.id,
        kind=PaymentKind(row.kind),
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        gateway_reference=row.gateway_reference,
    )
