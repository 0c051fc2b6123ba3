"""The RMA workflow on the time-skipping server: every state and timer of lifecycles.md §1."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from db import models
from domain.common import CarrierStatus, Policy
from domain.rma import (
    CancelRequest,
    Grade,
    InspectionRequest,
    ReceiveRequest,
    Resolution,
    ReviewDecision,
    RmaStart,
)
from tests.workflows.kit import (
    RETAILER,
    Harness,
    RmaHandle,
    case_row,
    events,
    expect_invalid,
    inbound_tracking,
    now,
    open_rma,
    payments,
    rma_start,
    scan,
    shipments,
    typed,
    until_status,
)
from workflows.rma import RmaWorkflow


async def through_receipt(h: Harness, s: RmaStart) -> RmaHandle:
    handle, view = await open_rma(h, s)
    assert view.status == "awaiting_return", view
    tracking = await inbound_tracking(h, s.rma_id)
    await handle.signal(RmaWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP))
    view = await handle.execute_update(typed(RmaWorkflow.receive), ReceiveRequest(actor=RETAILER))
    assert view.status == "received"
    return handle


# ------------------------------------------------------------------------- tests


async def test_refund_grade_a_full_refund(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), price="80.00", quantity=2)
    handle = await through_receipt(harness, s)
    view = await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.A, True)
    )
    assert view.status == "completed"
    assert view.outcome == "refunded"
    assert view.refund_amount == Decimal("160.00")
    result = await handle.result()
    assert result.status == "completed"
    assert [p.amount for p in await payments(harness, s.rma_id)] == [Decimal("160.00")]
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
    s = rma_start(harness, now=await now(harness), price="19.99")
    handle = await through_receipt(harness, s)
    view = await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.B, True)
    )
    # 15 % of 19.99 is 2.9985, rounded half up to 3.00.
    assert view.refund_amount == Decimal("16.99")
    assert (await handle.result()).outcome == "refunded"


async def test_grade_d_is_a_full_refund(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), price="50.00")
    handle = await through_receipt(harness, s)
    view = await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.D, True)
    )
    assert view.refund_amount == Decimal("50.00")
    await handle.result()


@pytest.mark.parametrize(("grade", "serial_matches"), [(Grade.C, True), (Grade.A, False)])
async def test_grade_c_and_serial_mismatch_ship_back(
    harness: Harness, grade: Grade, serial_matches: bool
) -> None:
    s = rma_start(harness, now=await now(harness))
    handle = await through_receipt(harness, s)
    view = await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, grade, serial_matches)
    )
    assert view.status == "resolving"
    assert view.refund_amount is None
    outbound = [x for x in await shipments(harness, s.rma_id) if x.direction == "outbound"]
    assert len(outbound) == 1
    await handle.signal(
        RmaWorkflow.carrier_event, scan(outbound[0].tracking_number, CarrierStatus.DELIVERED)
    )
    result = await handle.result()
    assert (result.status, result.outcome) == ("completed", "returned_to_customer")
    assert await payments(harness, s.rma_id) == []
    kinds = {d.kind for d in result.documents}
    assert {"return_label", "packing_slip", "shipping_label"} <= kinds


async def test_a_retried_inspection_never_refunds_twice(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), price="10.00")
    handle = await through_receipt(harness, s)
    await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.A, True)
    )
    with pytest.raises(Exception):  # noqa: B017 - the workflow has ended; any refusal will do
        await handle.execute_update(
            typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.A, True)
        )
    await handle.result()
    assert len(await payments(harness, s.rma_id)) == 1


async def test_duplicate_carrier_events_are_ignored(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness))
    handle, _ = await open_rma(harness, s)
    tracking = await inbound_tracking(harness, s.rma_id)
    event = scan(tracking, CarrierStatus.IN_TRANSIT, event_id="evt-1")
    await handle.signal(RmaWorkflow.carrier_event, event)
    await handle.signal(RmaWorkflow.carrier_event, event)
    view = await handle.execute_update(typed(RmaWorkflow.receive), ReceiveRequest(actor=RETAILER))
    assert view.status == "received"
    assert (await events(harness, s.rma_id)).count("carrier_in_transit") == 1
    await handle.cancel()


async def test_pending_review_approved(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), price="1500.00")
    handle, view = await open_rma(harness, s)
    assert view.status == "pending_review"
    assert await shipments(harness, s.rma_id) == []  # no label before approval
    view = await handle.execute_update(
        typed(RmaWorkflow.decide_review), ReviewDecision(RETAILER, approve=True)
    )
    assert view.status == "awaiting_return"
    await inbound_tracking(harness, s.rma_id)
    await handle.cancel()


async def test_pending_review_rejected(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), price="1500.00")
    handle, _ = await open_rma(harness, s)
    view = await handle.execute_update(
        typed(RmaWorkflow.decide_review),
        ReviewDecision(RETAILER, approve=False, reason="fraud_suspected"),
    )
    assert (view.status, view.reason) == ("rejected", "fraud_suspected")
    assert (await handle.result()).status == "rejected"


async def test_pending_review_times_out_into_expired(harness: Harness) -> None:
    policy = Policy(review_timeout=timedelta(days=7))
    s = rma_start(harness, now=await now(harness), price="1500.00", policy=policy)
    handle, _ = await open_rma(harness, s)
    result = await handle.result()  # the test server skips the 7 days
    assert result.status == "expired"
    assert "review_timeout" in await events(harness, s.rma_id)


async def test_reminder_at_half_and_expiry_voids_the_label(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), policy=Policy(return_ship_by=timedelta(days=14)))
    handle, _ = await open_rma(harness, s)
    await inbound_tracking(harness, s.rma_id)
    await harness.env.sleep(timedelta(days=7, hours=1))
    assert "return_reminder" in await events(harness, s.rma_id)
    assert (await case_row(harness, s.rma_id)).status == "awaiting_return"
    result = await handle.result()
    assert result.status == "expired"
    timeline = await events(harness, s.rma_id)
    assert timeline.index("return_reminder") < timeline.index("expired")
    assert [x.status for x in await shipments(harness, s.rma_id)] == ["voided"]


async def test_a_scan_stops_the_expiry_timer(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), policy=Policy(return_ship_by=timedelta(days=2)))
    handle, _ = await open_rma(harness, s)
    tracking = await inbound_tracking(harness, s.rma_id)
    await handle.signal(RmaWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP))
    await harness.env.sleep(timedelta(days=5))
    assert (await case_row(harness, s.rma_id)).status == "in_transit"
    await handle.cancel()


async def test_cancel_before_scan_voids_the_label(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness))
    handle, _ = await open_rma(harness, s)
    await inbound_tracking(harness, s.rma_id)
    view = await handle.execute_update(
        typed(RmaWorkflow.cancel), CancelRequest(RETAILER, reason="changed mind")
    )
    assert view.status == "cancelled"
    assert (await handle.result()).status == "cancelled"
    assert [x.status for x in await shipments(harness, s.rma_id)] == ["voided"]


async def test_cancel_while_pending_review(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), price="2000.00")
    handle, _ = await open_rma(harness, s)
    view = await handle.execute_update(typed(RmaWorkflow.cancel), CancelRequest(RETAILER))
    assert view.status == "cancelled"
    await handle.result()


async def test_out_of_order_commands_are_refused_and_change_nothing(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness))
    handle, _ = await open_rma(harness, s)
    tracking = await inbound_tracking(harness, s.rma_id)
    before = await events(harness, s.rma_id)
    await expect_invalid(
        handle.execute_update(
            typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.A, True)
        ),
        "awaiting_return",
    )
    await expect_invalid(
        handle.execute_update(
            typed(RmaWorkflow.decide_review), ReviewDecision(RETAILER, approve=True)
        ),
        "awaiting_return",
    )
    assert await events(harness, s.rma_id) == before
    await handle.signal(RmaWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP))
    await handle.execute_update(typed(RmaWorkflow.receive), ReceiveRequest(actor=RETAILER))
    # Scanned and received: too late to cancel.
    await expect_invalid(
        handle.execute_update(typed(RmaWorkflow.cancel), CancelRequest(RETAILER)), "received"
    )
    assert (await case_row(harness, s.rma_id)).status == "received"
    await handle.cancel()


async def test_cancel_after_the_first_scan_is_refused(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness))
    handle, _ = await open_rma(harness, s)
    tracking = await inbound_tracking(harness, s.rma_id)
    await handle.signal(RmaWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP))
    # The scan is applied before the next command is validated.
    await until_status(harness, s.rma_id, "in_transit")
    await expect_invalid(
        handle.execute_update(typed(RmaWorkflow.cancel), CancelRequest(RETAILER)), "in_transit"
    )
    await handle.cancel()


@pytest.mark.parametrize(
    ("resolution", "event"),
    [(Resolution.REPLACEMENT, "replacement_started"), (Resolution.REPAIR, "repair_started")],
)
async def test_replacement_and_repair_reach_resolving(
    harness: Harness, resolution: Resolution, event: str
) -> None:
    s = rma_start(harness, now=await now(harness), resolution=resolution)
    if resolution is Resolution.REPLACEMENT:
        # Stock for the child: it ships and waits for its parcel rather than expiring into
        # a refund later. (A child that ends after its parent has closed stalls the
        # time-skipping server's clock for every later test.)
        sku = f"SKU-{uuid.uuid4().hex[:8]}"
        s.items[0].sku = sku
        async with harness.sessions.begin() as session:
            session.add(models.InventoryItem(org_id=harness.org_id, sku=sku, quantity=5))
    handle = await through_receipt(harness, s)
    view = await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.D, True)
    )
    assert view.status == "resolving"
    assert event in await events(harness, s.rma_id)
    await handle.cancel()


async def test_repair_grade_c_turns_coverage_to_paid(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness), resolution=Resolution.REPAIR)
    handle = await through_receipt(harness, s)
    view = await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.C, True)
    )
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
        ({"serial_number": "SN-DUP", "open_serials": ["SN-DUP"]}, "duplicate_open_case"),
    ],
)
async def test_rejections_carry_their_reason(
    harness: Harness, kwargs: dict[str, Any], reason: str
) -> None:
    s = rma_start(harness, now=await now(harness), **kwargs)
    handle, view = await open_rma(harness, s)
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
                "serial_number": "SN-PLAN",
                "plan_serials": ["SN-PLAN"],
            },
            "service_plan",
        ),
    ],
)
async def test_coverage_is_recorded(
    harness: Harness, kwargs: dict[str, Any], coverage: str
) -> None:
    s = rma_start(harness, now=await now(harness), **kwargs)
    handle, view = await open_rma(harness, s)
    assert view.coverage == coverage
    assert (await case_row(harness, s.rma_id)).coverage == coverage
    await handle.cancel()


async def test_authorize_answers_the_same_decision_twice(harness: Harness) -> None:
    s = rma_start(harness, now=await now(harness))
    handle, first = await open_rma(harness, s)
    second = await handle.execute_update(typed(RmaWorkflow.authorize))
    assert first == second
    async with harness.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(models.Case).where(models.Case.id == s.rma_id)
        )
    assert count == 1
    await handle.cancel()
