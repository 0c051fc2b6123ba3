"""The RMA workflow on the time-skipping server: every state and timer of lifecycles.md §1."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from db import models
from domain.common import Address, CarrierEvent, CarrierStatus, Customer, Policy
from domain.ids import new_tracking_token, rma_workflow_id
from domain.rma import (
    Actor,
    CancelRequest,
    Grade,
    InspectionRequest,
    ReceiveRequest,
    Resolution,
    ReturnReason,
    ReviewDecision,
    RmaItem,
    RmaResult,
    RmaStart,
    RmaView,
)
from tests.workflows.conftest import Harness

RETAILER = Actor("retailer", "org")


def rma_start(
    h: Harness,
    *,
    now: datetime,
    resolution: Resolution = Resolution.REFUND,
    purchased_days_ago: int = 5,
    price: str = "100.00",
    quantity: int = 1,
    warranty_months: int = 12,
    policy: Policy | None = None,
    open_serials: list[str] | None = None,
    plan_serials: list[str] | None = None,
    serial: str | None = None,
) -> RmaStart:
    return RmaStart(
        rma_id=f"RMA-TEST-{uuid.uuid4().hex[:10].upper()}",
        org_id=h.org_id,
        org_name="Test Retailer",
        tracking_token=new_tracking_token(),
        order_ref="SO-1",
        purchased_at=now - timedelta(days=purchased_days_ago),
        customer=Customer(
            name="Grace Hopper",
            email="grace@example.com",
            address=Address(
                line1="1 Navy Way", city="Arlington", postal_code="22202", country="US"
            ),
        ),
        items=[
            RmaItem(
                sku="SKU-1",
                serial=serial or f"SN-{uuid.uuid4().hex[:8]}",
                quantity=quantity,
                reason=ReturnReason.DEFECTIVE,
                unit_price=Decimal(price),
                product_name="Speaker",
                category="audio",
                warranty_months=warranty_months,
            )
        ],
        resolution=resolution,
        policy=policy or Policy(),
        public_base_url="http://aftersales.test",
        serials_with_open_cases=open_serials or [],
        serials_with_active_plans=plan_serials or [],
    )


async def clock(h: Harness) -> datetime:
    """The test server's time, which runs ahead of the wall clock once timers are skipped."""
    return await h.env.get_current_time()


async def start(h: Harness, start_input: RmaStart) -> tuple[WorkflowHandle[Any, Any], RmaView]:
    handle = await h.env.client.start_workflow(
        "Rma",
        start_input,
        id=rma_workflow_id(start_input.rma_id),
        task_queue=h.settings.task_queue,
        result_type=RmaResult,
    )
    view = await handle.execute_update("authorize", result_type=RmaView)
    return handle, view


async def update(handle: WorkflowHandle[Any, Any], name: str, arg: Any) -> RmaView:
    view: RmaView = await handle.execute_update(name, arg, result_type=RmaView)
    return view


async def case_row(h: Harness, rma_id: str) -> models.Case:
    async with h.sessions() as session:
        case = await session.get(models.Case, rma_id)
        assert case is not None
        return case


async def events(h: Harness, rma_id: str) -> list[str]:
    async with h.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(models.TimelineEvent.event)
                    .where(models.TimelineEvent.case_id == rma_id)
                    .order_by(models.TimelineEvent.seq)
                )
            ).all()
        )


async def shipments(h: Harness, rma_id: str) -> list[models.Shipment]:
    async with h.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(models.Shipment)
                    .where(models.Shipment.case_id == rma_id)
                    .order_by(models.Shipment.created_at)
                )
            ).all()
        )


async def wait_for_label(h: Harness, handle: WorkflowHandle[Any, Any], rma_id: str) -> str:
    for _ in range(200):
        found = await shipments(h, rma_id)
        if found and "label_created" in await events(h, rma_id):
            return found[0].tracking_number
        await h.env.sleep(timedelta(milliseconds=50))
    raise AssertionError("no label")


def scan(tracking: str, status: CarrierStatus, event_id: str | None = None) -> CarrierEvent:
    return CarrierEvent(
        event_id=event_id or uuid.uuid4().hex,
        tracking_number=tracking,
        status=status,
        occurred_at=datetime.now(UTC),
        location="Depot",
    )


async def refunds(h: Harness, rma_id: str) -> list[models.Payment]:
    async with h.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(models.Payment).where(models.Payment.case_id == rma_id)
                )
            ).all()
        )


async def through_receipt(h: Harness, s: RmaStart) -> WorkflowHandle[Any, Any]:
    handle, view = await start(h, s)
    assert view.status == "awaiting_return", view
    tracking = await wait_for_label(h, handle, s.rma_id)
    await handle.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
    view = await update(handle, "receive", ReceiveRequest(actor=RETAILER))
    assert view.status == "received"
    return handle


# ------------------------------------------------------------------------- tests


async def test_refund_grade_a_full_refund(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), price="80.00", quantity=2)
    handle = await through_receipt(harness, s)
    view = await update(handle, "inspect", InspectionRequest(RETAILER, Grade.A, True))
    assert view.status == "completed"
    assert view.outcome == "refunded"
    assert view.refund_amount == Decimal("160.00")
    result = await handle.result()
    assert result.status == "completed"
    assert [p.amount for p in await refunds(harness, s.rma_id)] == [Decimal("160.00")]
    timeline = await events(harness, s.rma_id)
    for expected in (
        "created",
        "authorized",
        "label_created",
        "carrier_picked_up",
        "received",
        "inspected",
        "refunded",
    ):
        assert expected in timeline
    row = await case_row(harness, s.rma_id)
    assert (row.status, row.outcome, row.coverage) == ("completed", "refunded", "return_window")


async def test_refund_grade_b_less_restocking_fee(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), price="19.99")
    handle = await through_receipt(harness, s)
    view = await update(handle, "inspect", InspectionRequest(RETAILER, Grade.B, True))
    # 15 % of 19.99 is 2.9985, rounded half up to 3.00.
    assert view.refund_amount == Decimal("16.99")
    assert (await handle.result()).outcome == "refunded"


async def test_grade_d_is_a_full_refund(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), price="50.00")
    handle = await through_receipt(harness, s)
    view = await update(handle, "inspect", InspectionRequest(RETAILER, Grade.D, True))
    assert view.refund_amount == Decimal("50.00")
    await handle.result()


@pytest.mark.parametrize(("grade", "serial_matches"), [(Grade.C, True), (Grade.A, False)])
async def test_grade_c_and_serial_mismatch_ship_back(
    harness: Harness, grade: Grade, serial_matches: bool
) -> None:
    s = rma_start(harness, now=await clock(harness))
    handle = await through_receipt(harness, s)
    view = await update(handle, "inspect", InspectionRequest(RETAILER, grade, serial_matches))
    assert view.status == "resolving"
    assert view.refund_amount is None
    outbound = [x for x in await shipments(harness, s.rma_id) if x.direction == "outbound"]
    assert len(outbound) == 1
    await handle.signal("carrier_event", scan(outbound[0].tracking_number, CarrierStatus.DELIVERED))
    result = await handle.result()
    assert (result.status, result.outcome) == ("completed", "returned_to_customer")
    assert await refunds(harness, s.rma_id) == []
    kinds = {d.kind for d in result.documents}
    assert {"return_label", "packing_slip", "shipping_label"} <= kinds


async def test_a_retried_inspection_never_refunds_twice(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), price="10.00")
    handle = await through_receipt(harness, s)
    await update(handle, "inspect", InspectionRequest(RETAILER, Grade.A, True))
    with pytest.raises(Exception):  # noqa: B017 - the workflow has ended; any refusal will do
        await update(handle, "inspect", InspectionRequest(RETAILER, Grade.A, True))
    await handle.result()
    assert len(await refunds(harness, s.rma_id)) == 1


async def test_duplicate_carrier_events_are_ignored(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness))
    handle, _ = await start(harness, s)
    tracking = await wait_for_label(harness, handle, s.rma_id)
    event = scan(tracking, CarrierStatus.IN_TRANSIT, event_id="evt-1")
    await handle.signal("carrier_event", event)
    await handle.signal("carrier_event", event)
    view = await update(handle, "receive", ReceiveRequest(actor=RETAILER))
    assert view.status == "received"
    assert (await events(harness, s.rma_id)).count("carrier_in_transit") == 1
    await handle.cancel()


async def test_pending_review_approved(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), price="1500.00")
    handle, view = await start(harness, s)
    assert view.status == "pending_review"
    assert await shipments(harness, s.rma_id) == []  # no label before approval
    view = await update(handle, "decide_review", ReviewDecision(RETAILER, approve=True))
    assert view.status == "awaiting_return"
    await wait_for_label(harness, handle, s.rma_id)
    await handle.cancel()


async def test_pending_review_rejected(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), price="1500.00")
    handle, _ = await start(harness, s)
    view = await update(
        handle, "decide_review", ReviewDecision(RETAILER, approve=False, reason="fraud_suspected")
    )
    assert (view.status, view.reason) == ("rejected", "fraud_suspected")
    assert (await handle.result()).status == "rejected"


async def test_pending_review_times_out_into_expired(harness: Harness) -> None:
    policy = Policy(review_timeout=timedelta(days=7))
    s = rma_start(harness, now=await clock(harness), price="1500.00", policy=policy)
    handle, _ = await start(harness, s)
    result = await handle.result()  # the test server skips the 7 days
    assert result.status == "expired"
    assert "review_timeout" in await events(harness, s.rma_id)


async def test_reminder_at_half_and_expiry_voids_the_label(harness: Harness) -> None:
    s = rma_start(
        harness, now=await clock(harness), policy=Policy(return_ship_by=timedelta(days=14))
    )
    handle, _ = await start(harness, s)
    await wait_for_label(harness, handle, s.rma_id)
    await harness.env.sleep(timedelta(days=7, hours=1))
    assert "return_reminder" in await events(harness, s.rma_id)
    assert (await case_row(harness, s.rma_id)).status == "awaiting_return"
    result = await handle.result()
    assert result.status == "expired"
    timeline = await events(harness, s.rma_id)
    assert timeline.index("return_reminder") < timeline.index("expired")
    assert [x.status for x in await shipments(harness, s.rma_id)] == ["voided"]


async def test_a_scan_stops_the_expiry_timer(harness: Harness) -> None:
    s = rma_start(
        harness, now=await clock(harness), policy=Policy(return_ship_by=timedelta(days=2))
    )
    handle, _ = await start(harness, s)
    tracking = await wait_for_label(harness, handle, s.rma_id)
    await handle.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
    await harness.env.sleep(timedelta(days=5))
    assert (await case_row(harness, s.rma_id)).status == "in_transit"
    await handle.cancel()


async def test_cancel_before_scan_voids_the_label(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness))
    handle, _ = await start(harness, s)
    await wait_for_label(harness, handle, s.rma_id)
    view = await update(handle, "cancel", CancelRequest(RETAILER, reason="changed mind"))
    assert view.status == "cancelled"
    assert (await handle.result()).status == "cancelled"
    assert [x.status for x in await shipments(harness, s.rma_id)] == ["voided"]


async def test_cancel_while_pending_review(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), price="2000.00")
    handle, _ = await start(harness, s)
    view = await update(handle, "cancel", CancelRequest(RETAILER))
    assert view.status == "cancelled"
    await handle.result()


async def expect_invalid(
    handle: WorkflowHandle[Any, Any], name: str, arg: Any, status: str
) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await update(handle, name, arg)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "invalid_transition"
    assert cause.details[0]["current_status"] == status


async def test_out_of_order_commands_are_refused_and_change_nothing(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness))
    handle, _ = await start(harness, s)
    tracking = await wait_for_label(harness, handle, s.rma_id)
    before = await events(harness, s.rma_id)
    await expect_invalid(
        handle, "inspect", InspectionRequest(RETAILER, Grade.A, True), "awaiting_return"
    )
    await expect_invalid(
        handle, "decide_review", ReviewDecision(RETAILER, approve=True), "awaiting_return"
    )
    assert await events(harness, s.rma_id) == before
    await handle.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
    await update(handle, "receive", ReceiveRequest(actor=RETAILER))
    # Scanned and received: too late to cancel.
    await expect_invalid(handle, "cancel", CancelRequest(RETAILER), "received")
    assert (await case_row(harness, s.rma_id)).status == "received"
    await handle.cancel()


async def test_cancel_after_the_first_scan_is_refused(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness))
    handle, _ = await start(harness, s)
    tracking = await wait_for_label(harness, handle, s.rma_id)
    await handle.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
    # The scan is applied before the next command is validated.
    for _ in range(100):
        if (await case_row(harness, s.rma_id)).status == "in_transit":
            break
        await harness.env.sleep(timedelta(milliseconds=50))
    await expect_invalid(handle, "cancel", CancelRequest(RETAILER), "in_transit")
    await handle.cancel()


@pytest.mark.parametrize(
    ("resolution", "event"),
    [(Resolution.REPLACEMENT, "replacement_started"), (Resolution.REPAIR, "repair_started")],
)
async def test_replacement_and_repair_reach_resolving(
    harness: Harness, resolution: Resolution, event: str
) -> None:
    s = rma_start(harness, now=await clock(harness), resolution=resolution)
    if resolution is Resolution.REPLACEMENT:
        # Stock for the child: it ships and waits for its parcel rather than expiring into
        # a refund later. (A child that ends after its parent has closed stalls the
        # time-skipping server's clock for every later test.)
        sku = f"SKU-{uuid.uuid4().hex[:8]}"
        s.items[0].sku = sku
        async with harness.sessions.begin() as session:
            session.add(models.InventoryItem(org_id=harness.org_id, sku=sku, quantity=5))
    handle = await through_receipt(harness, s)
    view = await update(handle, "inspect", InspectionRequest(RETAILER, Grade.D, True))
    assert view.status == "resolving"
    assert event in await events(harness, s.rma_id)
    await handle.cancel()


async def test_repair_grade_c_turns_coverage_to_paid(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness), resolution=Resolution.REPAIR)
    handle = await through_receipt(harness, s)
    view = await update(handle, "inspect", InspectionRequest(RETAILER, Grade.C, True))
    assert view.coverage == "paid"
    await handle.cancel()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"resolution": Resolution.REFUND, "purchased_days_ago": 45}, "outside_return_window"),
        (
            {
                "resolution": Resolution.REPLACEMENT,
                "purchased_days_ago": 400,
                "warranty_months": 12,
            },
            "not_covered",
        ),
        ({"serial": "SN-DUP", "open_serials": ["SN-DUP"]}, "duplicate_open_case"),
    ],
)
async def test_rejections_carry_their_reason(
    harness: Harness, kwargs: dict[str, Any], reason: str
) -> None:
    s = rma_start(harness, now=await clock(harness), **kwargs)
    handle, view = await start(harness, s)
    assert (view.status, view.reason) == ("rejected", reason)
    assert (await handle.result()).status == "rejected"
    assert await shipments(harness, s.rma_id) == []
    assert (await case_row(harness, s.rma_id)).reason == reason


@pytest.mark.parametrize(
    ("kwargs", "coverage"),
    [
        (
            {"resolution": Resolution.REPAIR, "purchased_days_ago": 400, "warranty_months": 0},
            "paid",
        ),
        ({"resolution": Resolution.REPLACEMENT, "purchased_days_ago": 100}, "warranty"),
        (
            {
                "resolution": Resolution.REPLACEMENT,
                "purchased_days_ago": 500,
                "serial": "SN-PLAN",
                "plan_serials": ["SN-PLAN"],
            },
            "service_plan",
        ),
    ],
)
async def test_coverage_is_recorded(
    harness: Harness, kwargs: dict[str, Any], coverage: str
) -> None:
    s = rma_start(harness, now=await clock(harness), **kwargs)
    handle, view = await start(harness, s)
    assert view.coverage == coverage
    assert (await case_row(harness, s.rma_id)).coverage == coverage
    await handle.cancel()


async def test_authorize_answers_the_same_decision_twice(harness: Harness) -> None:
    s = rma_start(harness, now=await clock(harness))
    handle, first = await start(harness, s)
    second = await handle.execute_update("authorize", result_type=RmaView)
    assert first == second
    async with harness.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(models.Case).where(models.Case.id == s.rma_id)
        )
    assert count == 1
    await handle.cancel()
