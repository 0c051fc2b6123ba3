"""The payments activity and its ledger with the Stripe gateway at the local stub: what a
retried attempt, a payment waiting for its customer, a payment given up on, a settlement
and a refund find in the ledger and ask of Stripe."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.gateways import GatewayAnswer, GatewayCall
from activities.gateways.builtin import BuiltinGateway
from activities.gateways.stripe import StripeGateway
from activities.payments import PaymentActivities
from cli import migrate
from db import models
from db.payment_events import accept_payment_event, payment_of_event
from db.session import make_engine, make_sessionmaker
from domain.contracts.payments import (
    PAYMENT_DECLINED,
    REQUIRES_ACTION,
    PaymentKind,
    PaymentRequest,
    PaymentResult,
)
from tests.stubs.stripe import StripeStub

PUBLIC = "http://aftersales.test"


@dataclass
class Ledger:
    sessions: async_sessionmaker[AsyncSession]
    org_id: str
    case_id: str
    token: str

    async def rows(self) -> list[models.Payment]:
        async with self.sessions() as session:
            found = await session.scalars(
                select(models.Payment)
                .where(models.Payment.case_id == self.case_id)
                .order_by(models.Payment.created_at)
            )
            return list(found.all())

    async def row(self, key: str) -> models.Payment:
        return next(r for r in await self.rows() if r.idempotency_key == key)

    def request(
        self, key: str, kind: PaymentKind, method: str = "pm_card_visa", amount: str = "30.00"
    ) -> PaymentRequest:
        return PaymentRequest(
            idempotency_key=key,
            org_id=self.org_id,
            case_id=self.case_id,
            kind=kind,
            amount=Decimal(amount),
            currency="EUR",
            payment_method=method,
        )


@pytest.fixture(scope="module")
async def database(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ledger')}/read-model.db"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def ledger(database: async_sessionmaker[AsyncSession]) -> Ledger:
    """An organisation with a case of its own."""
    case_id = f"PLN-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    async with database.begin() as session:
        org = models.Organisation(name="Shop", kind="retailer")
        session.add(org)
        await session.flush()
        session.add(
            models.Case(
                id=case_id,
                org_id=org.id,
                case_type="service_plan",
                workflow_id=f"plan:{case_id}",
                status="active",
                tracking_token=token,
            )
        )
    return Ledger(database, org.id, case_id, token)


@pytest.fixture
def stub() -> Iterator[StripeStub]:
    server = StripeStub().start()
    try:
        yield server
    finally:
        server.stop()


def activities(ledger: Ledger, stub: StripeStub) -> PaymentActivities:
    return PaymentActivities(ledger.sessions, StripeGateway(stub.secret_key, stub.base_url), PUBLIC)


def retry() -> ActivityEnvironment:
    """The activity as its retry policy runs it again (attempt 2)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=2)
    return env


async def run(payments: PaymentActivities, request: PaymentRequest) -> PaymentResult:
    return await ActivityEnvironment().run(payments.execute_payment, request)


async def test_a_lost_answer_is_retried_under_the_same_stripe_key(
    ledger: Ledger, stub: StripeStub
) -> None:
    payments = activities(ledger, stub)
    request = ledger.request(f"{ledger.case_id}/charge-1", PaymentKind.CHARGE)
    stub.fail_next("create", 502, after=True)
    with pytest.raises(stripe.APIError):
        await run(payments, request)
    row = await ledger.row(request.idempotency_key)
    assert (row.status, row.attempts, row.gateway_reference) == ("pending", 1, "")
    result = await retry().run(payments.execute_payment, request)
    assert result.status == "succeeded"
    (intent,) = stub.created()
    assert result.gateway_reference == intent["id"]
    creates = [p for _, path, p in stub.requests if path == "/v1/payment_intents"]
    assert len(creates) == 2  # the same attempt twice, answered once
    # Paid: asked again, nothing reaches Stripe.
    before = len(stub.requests)
    assert (await run(payments, request)).status == "succeeded"
    assert len(stub.requests) == before


async def test_a_decline_is_a_non_retryable_payment_declined(
    ledger: Ledger, stub: StripeStub
) -> None:
    payments = activities(ledger, stub)
    request = ledger.request(
        f"{ledger.case_id}/charge-1", PaymentKind.CHARGE, "pm_card_chargeDeclined"
    )
    with pytest.raises(ApplicationError) as declined:
        await run(payments, request)
    assert declined.value.type == PAYMENT_DECLINED and declined.value.non_retryable
    assert "Your card was declined" in str(declined.value)
    row = await ledger.row(request.idempotency_key)
    assert (row.status, row.provider, row.message) == (
        "declined",
        "stripe",
        "Your card was declined. / generic_decline",
    )


async def test_a_payment_waiting_for_its_customer(ledger: Ledger, stub: StripeStub) -> None:
    payments = activities(ledger, stub)
    request = ledger.request(
        f"{ledger.case_id}/charge-1", PaymentKind.CHARGE, "pm_card_authenticationRequired"
    )
    result = await run(payments, request)
    assert result.status == REQUIRES_ACTION
    (intent,) = stub.created()
    assert result.action_url == f"{stub.base_url}/authenticate/{intent['id']}"
    # The customer comes back to the case's tracking page.
    redirect = intent["next_action"]["redirect_to_url"]
    assert redirect["return_url"] == f"{PUBLIC}/track/{ledger.token}"
    row = await ledger.row(request.idempotency_key)
    assert (row.status, row.action_url) == (REQUIRES_ACTION, result.action_url)
    # A retry of that call answers the same, and asks Stripe nothing.
    again = await retry().run(payments.execute_payment, request)
    assert (again.status, again.gateway_reference) == (REQUIRES_ACTION, intent["id"])
    assert len(stub.created()) == 1

    # Stripe's event settles it; asked again, the payment is made.
    async with ledger.sessions() as session:
        payment = await payment_of_event(session, intent["id"], "")
        assert payment is not None
        accepted = await accept_payment_event(
            session,
            event_id="evt_1",
            provider="stripe",
            event_type="payment_intent.succeeded",
            payment=payment,
            reference=intent["id"],
            settled="succeeded",
            message="",
            attempt=1,
        )
        await session.commit()
    assert accepted.workflow_id == f"plan:{ledger.case_id}"
    paid = await run(payments, request)
    assert (paid.status, paid.gateway_reference, paid.action_url) == ("succeeded", intent["id"], "")


async def test_a_payment_given_up_on_is_cancelled_before_a_new_attempt(
    ledger: Ledger, stub: StripeStub
) -> None:
    payments = activities(ledger, stub)
    key = f"{ledger.case_id}/charge-1"
    waiting = await run(
        payments, ledger.request(key, PaymentKind.CHARGE, "pm_card_authenticationRequired")
    )
    # The workflow's wait ran out; dunning asks again, with another card.
    paid = await run(payments, ledger.request(key, PaymentKind.CHARGE, "pm_card_visa"))
    assert paid.status == "succeeded" and paid.gateway_reference != waiting.gateway_reference
    assert stub.intents[waiting.gateway_reference]["status"] == "canceled"
    row = await ledger.row(key)
    assert (row.attempts, row.payment_method) == (2, "pm_card_visa")


async def test_settlements_and_refunds_find_their_original_in_the_ledger(
    ledger: Ledger, stub: StripeStub
) -> None:
    payments = activities(ledger, stub)
    hold_key = f"{ledger.case_id}/hold-1"
    hold = await run(payments, ledger.request(hold_key, PaymentKind.HOLD, amount="80.00"))
    captured = await run(
        payments, ledger.request(f"{hold_key}/capture", PaymentKind.CAPTURE, amount="80.00")
    )
    assert captured.gateway_reference == hold.gateway_reference
    assert stub.intents[hold.gateway_reference]["status"] == "succeeded"
    charge = await run(payments, ledger.request(f"{ledger.case_id}/charge-1", PaymentKind.CHARGE))
    deductible = await run(
        payments,
        ledger.request(f"{ledger.case_id}/deductible", PaymentKind.DEDUCTIBLE, amount="49.00"),
    )
    # The case's charge first (a plan's period), the newest that covers the amount.
    refund = await run(
        payments, ledger.request(f"{ledger.case_id}/refund-1", PaymentKind.REFUND, amount="25.00")
    )
    assert stub.refunds[refund.gateway_reference]["payment_intent"] == charge.gateway_reference
    # 5.00 left on the charge: 40.00 goes back to a payment that still covers it.
    bigger = await run(
        payments, ledger.request(f"{ledger.case_id}/refund-2", PaymentKind.REFUND, amount="40.00")
    )
    assert stub.refunds[bigger.gateway_reference]["payment_intent"] in (
        deductible.gateway_reference,
        hold.gateway_reference,
    )
    rows = {r.idempotency_key: r for r in await ledger.rows()}
    assert rows[f"{ledger.case_id}/refund-1"].original_reference == charge.gateway_reference
    assert rows[f"{hold_key}/capture"].original_reference == hold.gateway_reference


class Recording(BuiltinGateway):
    def __init__(self) -> None:
        super().__init__(PUBLIC)
        self.calls: list[GatewayCall] = []

    async def execute(self, call: GatewayCall) -> GatewayAnswer:
        self.calls.append(call)
        return await super().execute(call)


async def test_a_hold_placed_on_the_builtin_gateway_is_settled_there(
    ledger: Ledger, stub: StripeStub
) -> None:
    # Held before the retailer moved to Stripe: its release must not go to Stripe.
    builtin = PaymentActivities(ledger.sessions, Recording(), PUBLIC)
    hold_key = f"{ledger.case_id}/hold-1"
    await run(builtin, ledger.request(hold_key, PaymentKind.HOLD, "pm_ok"))
    released = await run(
        activities(ledger, stub),
        ledger.request(f"{hold_key}/release", PaymentKind.RELEASE, "pm_ok"),
    )
    assert released.status == "succeeded"
    assert stub.requests == []
    row = await ledger.row(f"{hold_key}/release")
    assert row.provider == "builtin" and row.original_reference.startswith("gw_")


async def test_a_payment_authenticated_at_the_last_moment_is_not_taken_twice(
    ledger: Ledger, stub: StripeStub
) -> None:
    payments = activities(ledger, stub)
    key = f"{ledger.case_id}/charge-1"
    waiting = await run(
        payments, ledger.request(key, PaymentKind.CHARGE, "pm_card_authenticationRequired")
    )
    # The customer authenticates just as the workflow gives up; Stripe's event is on its way.
    stub.intents[waiting.gateway_reference].update(status="succeeded", next_action=None)
    with pytest.raises(ApplicationError) as refused:
        await run(payments, ledger.request(key, PaymentKind.CHARGE, "pm_card_visa"))
    assert not refused.value.non_retryable
    assert len(stub.created()) == 1
    row = await ledger.row(key)
    assert (row.status, row.attempts) == (REQUIRES_ACTION, 1)
    # Retried, it answers as before: the event settles the payment with the workflow.
    again = await retry().run(
        payments.execute_payment, ledger.request(key, PaymentKind.CHARGE, "pm_card_visa")
    )
    assert (again.status, again.gateway_reference) == (REQUIRES_ACTION, waiting.gateway_reference)
