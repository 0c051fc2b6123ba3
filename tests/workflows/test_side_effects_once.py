"""The shared mechanisms: an activity retried after a crash stores one document, books one
shipment and charges once. The 'crash' happens after the side effect and before the result
reaches Temporal, the worst moment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from activities.carrier import BuiltinCarrier, CarrierActivities
from activities.documents import DocumentActivities
from activities.payments import BuiltinGateway, PaymentActivities
from db import models
from db.document_store import LocalDocumentStore
from domain.common import Address, Direction
from domain.contracts.carrier import BookShipment
from domain.contracts.documents import LabelRequest
from domain.contracts.payments import PaymentKind, PaymentRequest
from domain.documents import LabelData
from tests.workflows.kit import Harness

ADDRESS = Address(line1="1 Main St", city="Springfield", postal_code="12345", country="US")


@dataclass
class CrashInput:
    case_id: str
    org_id: str


class CrashingActivities:
    """Each activity does the real side effect, then dies on its first attempt."""

    def __init__(
        self, carrier: CarrierActivities, payments: PaymentActivities, documents: DocumentActivities
    ) -> None:
        self.carrier = carrier
        self.payments = payments
        self.documents = documents

    @staticmethod
    def _crash_first_time() -> None:
        if activity.info().attempt == 1:
            raise RuntimeError("worker died after the side effect")

    @activity.defn
    async def crash_book(self, request: BookShipment) -> str:
        shipment = await self.carrier.book_shipment(request)
        self._crash_first_time()
        return shipment.tracking_number

    @activity.defn
    async def crash_charge(self, request: PaymentRequest) -> str:
        result = await self.payments.execute_payment(request)
        self._crash_first_time()
        return result.payment_id

    @activity.defn
    async def crash_render(self, request: LabelRequest) -> str:
        document = await self.documents.render_label(request)
        self._crash_first_time()
        return document.id


@workflow.defn(sandboxed=False)
class CrashWorkflow:
    @workflow.run
    async def run(self, data: CrashInput) -> list[str]:
        retry = RetryPolicy(initial_interval=timedelta(milliseconds=10), maximum_attempts=5)
        key = f"crash:{data.case_id}"
        timeout = timedelta(seconds=30)
        tracking = await workflow.execute_activity_method(
            CrashingActivities.crash_book,
            BookShipment(
                idempotency_key=f"{key}/ship",
                org_id=data.org_id,
                case_id=data.case_id,
                workflow_id=key,
                direction=Direction.INBOUND,
                origin=ADDRESS,
                destination=ADDRESS,
            ),
            start_to_close_timeout=timeout,
            retry_policy=retry,
        )
        payment = await workflow.execute_activity_method(
            CrashingActivities.crash_charge,
            PaymentRequest(
                idempotency_key=f"{key}/charge",
                org_id=data.org_id,
                case_id=data.case_id,
                kind=PaymentKind.CHARGE,
                amount=Decimal("42.00"),
                currency="USD",
                payment_method="pm_ok",
            ),
            start_to_close_timeout=timeout,
            retry_policy=retry,
        )
        document = await workflow.execute_activity_method(
            CrashingActivities.crash_render,
            LabelRequest(
                idempotency_key=f"{key}/label",
                org_id=data.org_id,
                case_id=data.case_id,
                label=LabelData(
                    carrier="c",
                    service="s",
                    tracking_number=tracking,
                    case_number=data.case_id,
                    from_address=ADDRESS,
                    to_address=ADDRESS,
                    tracking_url="http://x/track/t",
                ),
            ),
            start_to_close_timeout=timeout,
            retry_policy=retry,
        )
        return [tracking, payment, document]


class CountingGateway(BuiltinGateway):
    def __init__(self) -> None:
        self.calls = 0

    async def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return await super().execute(*args, **kwargs)


async def _make_case(h: Harness, case_id: str) -> None:
    from datetime import UTC, datetime

    async with h.sessions.begin() as session:
        session.add(
            models.Case(
                id=case_id,
                org_id=h.org_id,
                case_type="test",
                workflow_id=f"crash:{case_id}",
                status="open",
                tracking_token=uuid.uuid4().hex,
                currency="USD",
                links={},
                data={},
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )


async def _count(h: Harness, model: type[models.Base], case_id: str) -> int:
    async with h.sessions() as session:
        column = model.case_id  # type: ignore[attr-defined]
        return int(
            await session.scalar(select(func.count()).select_from(model).where(column == case_id))
            or 0
        )


async def test_crash_after_side_effect_is_retried_without_doing_it_twice(
    harness: Harness,
) -> None:
    case_id = f"CRASH-{uuid.uuid4().hex[:8]}"
    await _make_case(harness, case_id)
    gateway = CountingGateway()
    store = LocalDocumentStore(harness.settings.document_dir)
    crashing = CrashingActivities(
        CarrierActivities(harness.sessions, BuiltinCarrier()),
        PaymentActivities(harness.sessions, gateway),
        DocumentActivities(harness.sessions, store),
    )
    queue = f"crash-{uuid.uuid4().hex[:6]}"
    async with Worker(
        harness.env.client,
        task_queue=queue,
        workflows=[CrashWorkflow],
        activities=[crashing.crash_book, crashing.crash_charge, crashing.crash_render],
    ):
        result = await harness.env.client.execute_workflow(
            CrashWorkflow.run,
            CrashInput(case_id, harness.org_id),
            id=f"crash:{case_id}",
            task_queue=queue,
        )
    assert len(result) == 3
    assert await _count(harness, models.Shipment, case_id) == 1
    assert await _count(harness, models.Payment, case_id) == 1
    assert await _count(harness, models.Document, case_id) == 1
    async with harness.sessions() as session:
        payment = await session.scalar(
            select(models.Payment).where(models.Payment.case_id == case_id)
        )
        assert payment is not None and payment.status == "succeeded"
    # The retry found the charge in the ledger and did not go back to the gateway.
    assert gateway.calls == 1
    pdfs = list(store.root.rglob("*.pdf"))
    assert len({p.name for p in pdfs}) == len(pdfs)


async def test_gateway_test_tokens(harness: Harness) -> None:
    case_id = f"PAY-{uuid.uuid4().hex[:8]}"
    payments = PaymentActivities(harness.sessions, BuiltinGateway())
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from domain.contracts.payments import PAYMENT_DECLINED

    env = ActivityEnvironment()

    def request(method: str) -> PaymentRequest:
        return PaymentRequest(
            idempotency_key=f"{case_id}/{method}",
            org_id=harness.org_id,
            case_id=case_id,
            kind=PaymentKind.CHARGE,
            amount=Decimal("9.99"),
            currency="USD",
            payment_method=method,
        )

    assert (await env.run(payments.execute_payment, request("pm_ok"))).status == "succeeded"
    for attempt in range(2):
        try:
            await env.run(payments.execute_payment, request("pm_declined"))
            raise AssertionError("pm_declined must decline")
        except ApplicationError as exc:
            assert exc.type == PAYMENT_DECLINED and exc.non_retryable, attempt
    try:
        await env.run(payments.execute_payment, request("pm_fail_once"))
        raise AssertionError("pm_fail_once must decline its first attempt")
    except ApplicationError as exc:
        assert exc.type == PAYMENT_DECLINED
    assert (await env.run(payments.execute_payment, request("pm_fail_once"))).status == "succeeded"
    # Paid keys stay paid: asking again charges nothing new.
    again = await env.run(payments.execute_payment, request("pm_fail_once"))
    assert again.status == "succeeded"
    async with harness.sessions() as session:
        rows = (
            await session.scalars(select(models.Payment).where(models.Payment.case_id == case_id))
        ).all()
    assert sorted((r.payment_method, r.status) for r in rows) == [
        ("pm_declined", "declined"),
        ("pm_fail_once", "succeeded"),
        ("pm_ok", "succeeded"),
    ]
