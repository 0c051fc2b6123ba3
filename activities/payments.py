"""The payments ledger and the gateway behind it: every money movement once per key.

Each ledger row is one movement (a charge, hold, capture, release or refund) with the
gateway's reference of what it moved, so that a capture, release or refund reaches the
original it settles. A row is attempted again only once its previous attempt's answer is
known (declined, or a customer authentication given up); a retry of an attempt whose answer
was lost reuses the attempt's gateway idempotency key, and the gateway answers as before."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import stubs
from activities.bad_data import refuses_bad_data
from activities.gateways import (
    DECLINED,
    PENDING,
    SUCCEEDED,
    GatewayAnswer,
    GatewayCall,
    GatewayDirectory,
    PaymentGateway,
)
from activities.gateways.builtin import BUILTIN, BuiltinGateway
from db import models
from db.types import utcnow
from domain.contracts.payments import (
    PAYMENT_DECLINED,
    REQUIRES_ACTION,
    PaymentKind,
    PaymentRequest,
    PaymentResult,
)

__all__ = ["BuiltinGateway", "GatewayAnswer", "PaymentActivities", "PaymentGateway"]

# Movements that settle a hold, and the ones a refund may give back.
_SETTLES_HOLD = frozenset({PaymentKind.CAPTURE, PaymentKind.RELEASE})
_REFUNDABLE = (PaymentKind.CHARGE.value, PaymentKind.DEDUCTIBLE.value, PaymentKind.CAPTURE.value)
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class _Original:
    reference: str
    provider: str


class OneGateway:
    """Every organisation on the same gateway: tests, and a worker without integrations."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self.gateway = gateway

    async def gateway_for(self, org_id: str) -> PaymentGateway:
        return self.gateway


class PaymentActivities(stubs.PaymentActivities):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gateways: GatewayDirectory | PaymentGateway,
        public_base_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self.sessions = sessions
        self.gateways = gateways if isinstance(gateways, GatewayDirectory) else OneGateway(gateways)
        self.public_base_url = public_base_url.rstrip("/")

    @activity.defn
    @refuses_bad_data
    async def execute_payment(self, request: PaymentRequest) -> PaymentResult:
        """Charge, refund, hold, capture or release once per idempotency key.

        A decline is a business answer, not a fault: it raises a non-retryable
        `PaymentDeclined` and the workflow decides what follows (dunning, payment_failed).
        A payment the customer must authenticate answers `requires_action` with the URL
        where they do; the gateway's event settles it later (api/routes/payment_events)."""
        payment = await self._claim(request)
        if payment.status == REQUIRES_ACTION and activity.info().attempt == 1:
            # Not a retry of the call that got this answer: the workflow gave up waiting for
            # its customer and asks anew. The old attempt is cancelled first, so that a late
            # authentication cannot take the money twice.
            await self._withdraw(request, payment)
            payment = await self._claim(request, abandoning=payment.row.gateway_reference)
        if payment.status in (SUCCEEDED, REQUIRES_ACTION):
            return _result(payment)
        gateway = await self.gateways.gateway_for(request.org_id)
        original = await self._original(request)
        if original.provider == BUILTIN and gateway.name != BUILTIN:
            # Moved on the built-in gateway before the organisation changed provider.
            gateway = BuiltinGateway(self.public_base_url)
        call = _call(
            request,
            payment,
            request.kind,
            original.reference,
            await self._return_url(request.case_id),
        )
        answer = await gateway.execute(call)
        row = await self._record(payment.id, answer, original.reference, gateway.name)
        if row.status == DECLINED:
            raise ApplicationError(
                row.message or "payment declined",
                request.kind.value,
                type=PAYMENT_DECLINED,
                non_retryable=True,
            )
        return _result(row)

    async def _withdraw(self, request: PaymentRequest, payment: _Claimed) -> None:
        row = payment.row
        gateway = (
            BuiltinGateway(self.public_base_url)
            if row.provider == BUILTIN
            else await self.gateways.gateway_for(request.org_id)
        )
        answer = await gateway.execute(
            _call(request, payment, PaymentKind.RELEASE, row.gateway_reference, "")
        )
        if answer.status != SUCCEEDED:
            # It cannot be cancelled: most likely the customer authenticated it at the last
            # moment. Retried, this call answers `requires_action` again, and the gateway's
            # event (on its way, or already with the workflow) settles it.
            raise ApplicationError(
                f"the payment awaiting its customer could not be cancelled: {answer.message}"
            )

    async def _claim(self, request: PaymentRequest, abandoning: str = "") -> _Claimed:
        """The ledger row for this key, made ready for an attempt unless already settled or
        waiting for its customer (unless `abandoning` that wait: cancelled with the gateway,
        and still the row's reference)."""
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
                        status=PENDING,
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
            abandoned = (
                bool(abandoning)
                and row.status == REQUIRES_ACTION
                and row.gateway_reference == abandoning
            )
            if row.attempts == 0 or row.status == DECLINED or abandoned:
                row.attempts += 1
                row.status = PENDING
                row.action_url = ""
                # A new payment method (dunning) is used for the next attempt.
                row.payment_method = request.payment_method
                row.updated_at = now
            return _Claimed.of(row)

    async def _original(self, request: PaymentRequest) -> _Original:
        """What a capture or release settles (the hold whose key it extends) or a refund gives
        back (named by the workflow, or the case's latest payment that covers it)."""
        kind = request.kind
        if kind not in _SETTLES_HOLD and kind is not PaymentKind.REFUND:
            return _Original("", "")
        Payment = models.Payment
        async with self.sessions() as session:
            if request.original_reference:
                provider = await session.scalar(
                    select(Payment.provider).where(
                        Payment.org_id == request.org_id,
                        Payment.gateway_reference == request.original_reference,
                    )
                )
                return _Original(request.original_reference, provider or "")
            if kind in _SETTLES_HOLD:
                hold_key = request.idempotency_key.rsplit("/", 1)[0]
                hold = await session.scalar(
                    select(Payment).where(
                        Payment.idempotency_key == hold_key, Payment.kind == PaymentKind.HOLD
                    )
                )
                return (
                    _Original(hold.gateway_reference, hold.provider) if hold else _Original("", "")
                )
            candidates = (
                await session.scalars(
                    select(Payment)
                    .where(
                        Payment.org_id == request.org_id,
                        Payment.case_id == request.case_id,
                        Payment.kind.in_(_REFUNDABLE),
                        Payment.status == SUCCEEDED,
                        Payment.gateway_reference != "",
                    )
                    # A plan's own charges before its deductibles: a cancellation gives
                    # back the period paid, not a claim's deductible.
                    .order_by(
                        (Payment.kind != PaymentKind.CHARGE.value),
                        Payment.created_at.desc(),
                        Payment.id.desc(),
                    )
                )
            ).all()
            for candidate in candidates:
                given_back = await session.scalar(
                    select(func.coalesce(func.sum(Payment.amount), 0)).where(
                        Payment.kind == PaymentKind.REFUND.value,
                        Payment.status == SUCCEEDED,
                        Payment.original_reference == candidate.gateway_reference,
                        Payment.idempotency_key != request.idempotency_key,
                    )
                )
                if candidate.amount - Decimal(given_back or 0) >= request.amount:
                    return _Original(candidate.gateway_reference, candidate.provider)
        return _Original("", "")

    async def _return_url(self, case_id: str) -> str:
        """The case's tracking page, where the customer lands after authenticating."""
        async with self.sessions() as session:
            token = await session.scalar(
                select(models.Case.tracking_token).where(models.Case.id == case_id)
            )
        return f"{self.public_base_url}/track/{token}" if token else self.public_base_url

    async def _record(
        self, payment_id: str, answer: GatewayAnswer, original: str, provider: str
    ) -> models.Payment:
        async with self.sessions.begin() as session:
            row = await session.get(models.Payment, payment_id, with_for_update=True)
            assert row is not None
            settled_by_event = (
                answer.status == REQUIRES_ACTION
                and row.gateway_reference == answer.reference
                and row.status in (SUCCEEDED, DECLINED)
            )
            if not settled_by_event:
                # (The gateway's event about this very payment can arrive before its answer
                # is stored: the event's word stands.)
                row.status = answer.status
                row.gateway_reference = answer.reference
                row.action_url = answer.action_url
                row.message = answer.message[:_MESSAGE_LIMIT]
            row.original_reference = original
            row.provider = provider
            row.updated_at = utcnow()
            return row


@dataclass(frozen=True)
class _Claimed:
    """A ledger row as claimed for an attempt: what the attempt needs to know of it."""

    id: str
    row: models.Payment
    status: str
    attempts: int

    @classmethod
    def of(cls, row: models.Payment) -> _Claimed:
        return cls(row.id, row, row.status, row.attempts)


def _call(
    request: PaymentRequest,
    payment: _Claimed,
    kind: PaymentKind,
    original: str,
    return_url: str,
) -> GatewayCall:
    suffix = f"/{payment.attempts}" if kind is request.kind else f"/{payment.attempts}/{kind}"
    return GatewayCall(
        idempotency_key=request.idempotency_key + suffix,
        kind=kind,
        amount=request.amount,
        currency=request.currency,
        payment_method=request.payment_method,
        attempt=payment.attempts,
        original_reference=original,
        return_url=return_url,
        org_id=request.org_id,
        case_id=request.case_id,
        ledger_key=request.idempotency_key,
    )


def _result(row: models.Payment | _Claimed) -> PaymentResult:
    if isinstance(row, _Claimed):
        row = row.row
    return PaymentResult(
        payment_id=row.id,
        kind=PaymentKind(row.kind),
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        gateway_reference=row.gateway_reference,
        action_url=row.action_url,
    )
