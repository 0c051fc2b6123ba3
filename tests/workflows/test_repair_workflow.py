"""The repair workflow on the time-skipping server: routing, the bench, quotes, QA, the SLA
clock, cancellation, and the repair an RMA starts as its child."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateHandle, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError

from db import models
from domain.common import CarrierStatus, Policy
from domain.ids import (
    child_case_id,
    new_tracking_token,
    repair_workflow_id,
    replacement_workflow_id,
)
from domain.money import minor_units
from domain.repair import (
    REPAIR_TRANSITIONS,
    Part,
    QaReport,
    QuoteDecision,
    RepairCancel,
    RepairCoverage,
    RepairStatus,
    RepairView,
    StatusChange,
)
from domain.rma import Grade, InspectionRequest, ReceiveRequest, Resolution
from tests.support import eventually
from tests.workflows import kit
from tests.workflows.kit import (
    CUSTOMER_ADDRESS,
    RETAILER,
    TWO_SCREWS,
    Gate,
    Harness,
    RepairHandle,
    add_center,
    bench_to_ready,
    carrier_scan,
    case_row,
    deliver_back,
    diagnosis,
    document_kinds,
    documents,
    events,
    held_activity,
    inbound_tracking,
    new_category,
    now,
    open_repair,
    open_rma,
    repair_start,
    report_status,
    rma_start,
    scan,
    settle_and_terminate,
    shipments,
    side_worker,
    timeline,
    typed,
    until_status,
)
from workflows.repair import RepairWorkflow
from workflows.rma import RmaWorkflow

S = RepairStatus


async def expect_invalid(call: Any, status: RepairStatus) -> ApplicationError:
    """Refused as an invalid transition from `status`, naming what the table allows."""
    allowed = sorted(s.value for s in REPAIR_TRANSITIONS[status])
    return await kit.expect_invalid(call, status.value, allowed)


async def sla(h: Harness, case_id: str) -> dict[str, Any]:
    data: dict[str, Any] = (await case_row(h, case_id)).data["sla"]
    return data


async def replacement_handed_over(h: Harness, repair_id: str) -> None:
    """A direct job beyond repair starts a replacement for the customer: check the link, then
    end that child, which outlives the job (ABANDON) and is another test's subject. Left
    running, it later stalls the shared time-skipping server's clock."""
    replacement_id = child_case_id(repair_id, "RPL")
    assert (await case_row(h, repair_id)).links.get("replacement_id") == replacement_id
    child = h.env.client.get_workflow_handle(replacement_workflow_id(replacement_id))
    assert (await child.describe()).id == replacement_workflow_id(replacement_id)
    await settle_and_terminate(h, child.id, replacement_id, "backordered")


# -------------------------------------------------------------------------- tests


async def test_warranty_repair_straight_through(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category)
    handle, view = await open_repair(h, s)
    assert (view.status, view.assigned_center) == ("awaiting_unit", center.org_id)

    tracking = await inbound_tracking(h, s.repair_id)
    (inbound,) = await shipments(h, s.repair_id, "inbound")
    assert inbound.to_address["line1"] == center.line1
    assert inbound.from_address["line1"] == CUSTOMER_ADDRESS.line1
    await carrier_scan(h, handle, s.repair_id, tracking, CarrierStatus.PICKED_UP)

    assert (await report_status(handle, S.RECEIVED, center)).status == "received"
    assert (await report_status(handle, S.DIAGNOSING, center)).status == "diagnosing"
    view = await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center))
    assert (view.status, view.quote) == ("repairing", None)
    view = await bench_to_ready(handle, center)
    assert view.status == "ready_to_ship"

    docs = {d.kind: d for d in await documents(h, s.repair_id)}
    assert {"return_label", "shipping_label", "repair_certificate"} <= set(docs)
    assert (docs["repair_certificate"].verification_code or "").startswith("CR-")
    (outbound,) = await shipments(h, s.repair_id, "outbound")
    assert outbound.to_address["line1"] == CUSTOMER_ADDRESS.line1
    assert outbound.from_address["line1"] == center.line1

    result = await deliver_back(h, handle, s.repair_id)
    assert (result.status, result.sla_breached) == ("completed", False)
    assert {d.kind for d in result.documents} == {
        "return_label",
        "shipping_label",
        "repair_certificate",
    }
    assert [x.tracking_number for x in result.shipments] == [
        tracking,
        outbound.tracking_number,
    ]
    assert await events(h, s.repair_id) == [
        "created",
        "routed",
        "label_created",
        "carrier_picked_up",
        "received",
        "diagnosing",
        "diagnosed",
        "covered",
        "quality_check",
        "qa_passed",
        "ready_to_ship",
        "carrier_picked_up",
        "carrier_delivered",
        "completed",
    ]
    row = await case_row(h, s.repair_id)
    assert (row.status, row.receiving_org_id, row.coverage) == (
        "completed",
        center.org_id,
        "warranty",
    )
    assert row.data["sla"]["breached"] is False
    assert row.data["sla"]["ready_at"] is not None


async def test_paid_repair_approved(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False)
    handle, view = await open_repair(h, s)
    assert view.status == "received"
    await report_status(handle, S.DIAGNOSING, center)

    view = await handle.execute_update(
        typed(RepairWorkflow.diagnose), diagnosis(center, [TWO_SCREWS], labor_minutes=90)
    )
    assert view.status == "awaiting_approval"
    assert view.quote is not None
    assert (view.quote.parts_total, view.quote.labor_total, view.quote.total) == (
        Decimal("25.00"),
        Decimal("90.00"),
        Decimal("115.00"),
    )
    quote = (await case_row(h, s.repair_id)).data["quote"]
    assert (quote["parts_total"], quote["labor_total"], quote["total"]) == (
        "25.00",
        "90.00",
        "115.00",
    )
    assert quote["outcome"] is None
    assert view.quote_expires_at == datetime.fromisoformat(quote["expires_at"])

    view = await handle.execute_update(
        typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=True)
    )
    assert view.status == "awaiting_parts"
    assert (await case_row(h, s.repair_id)).data["quote"]["outcome"] == "approved"
    assert (await report_status(handle, S.REPAIRING, center)).status == "repairing"
    assert (await bench_to_ready(handle, center)).status == "ready_to_ship"
    assert "repair_certificate" in await document_kinds(h, s.repair_id)

    result = await deliver_back(h, handle, s.repair_id)
    assert result.status == "completed"
    timeline = await events(h, s.repair_id)
    for earlier, later in [
        ("quoted", "quote_approved"),
        ("quote_approved", "parts_received"),
        ("parts_received", "qa_passed"),
        ("qa_passed", "completed"),
    ]:
        assert timeline.index(earlier) < timeline.index(later)


@pytest.mark.parametrize(
    ("currency", "unit_price", "rate", "figures"),
    [
        # 7 minutes at 1000 JPY an hour is 116.66…: 117 yen, never 116.67.
        ("JPY", "2468", "1000", ("2468", "117", "2585")),
        # 7 minutes at 7.125 KWD an hour is 0.83125: 0.831 dinar, never 0.83.
        ("KWD", "1.125", "7.125", ("1.125", "0.831", "1.956")),
    ],
)
async def test_a_quote_is_priced_in_the_retailers_minor_units(
    harness: Harness, currency: str, unit_price: str, rate: str, figures: tuple[str, str, str]
) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    async with h.sessions.begin() as session:
        await session.execute(
            update(models.RepairCenter)
            .where(models.RepairCenter.org_id == center.org_id)
            .values(labor_rate=Decimal(rate), currency=currency)
        )
    policy = Policy(currency=currency)
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False, policy=policy)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    part = Part("P-7", "Hinge", 1, Decimal(unit_price))
    view = await handle.execute_update(
        typed(RepairWorkflow.diagnose), diagnosis(center, [part], labor_minutes=7)
    )

    assert view.status == "awaiting_approval" and view.quote is not None
    answered = (view.quote.parts_total, view.quote.labor_total, view.quote.total)
    assert answered == tuple(Decimal(f) for f in figures)
    places = -minor_units(currency)
    assert {a.as_tuple().exponent for a in answered} == {places}
    (quoted,) = [e.detail for e in await timeline(h, s.repair_id) if e.event == "quoted"]
    assert (quoted["amount"], quoted["currency"]) == (figures[2], currency)
    # The stored facts keep them too, and the part's price (once "0.83" and "1.12" dinar,
    # "2468.00" yen): the API reads the quote and the diagnosis from there.
    data = (await case_row(h, s.repair_id)).data
    stored = data["quote"]
    assert (stored["parts_total"], stored["labor_total"], stored["total"]) == figures
    assert [p["unit_price"] for p in data["diagnosis"]["parts"]] == [figures[0]]
    assert data["currency"] == currency
    await handle.execute_update(
        typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=False)
    )
    assert (await deliver_back(h, handle, s.repair_id)).status == "returned_unrepaired"
    # Every later step writes the facts again, in the same minor units.
    data = (await case_row(h, s.repair_id)).data
    assert (data["quote"]["total"], data["quote"]["outcome"]) == (figures[2], "declined")
    assert [p["unit_price"] for p in data["diagnosis"]["parts"]] == [figures[0]]


async def test_paid_repair_declined_goes_back_unrepaired(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center, [TWO_SCREWS]))

    view = await handle.execute_update(
        typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=False)
    )
    assert view.status == "ready_to_ship"
    docs = {d.kind: d for d in await documents(h, s.repair_id)}
    assert "shipping_label" in docs
    assert "repair_certificate" not in docs
    assert (await case_row(h, s.repair_id)).data["quote"]["outcome"] == "declined"

    result = await deliver_back(h, handle, s.repair_id)
    assert result.status == "returned_unrepaired"
    assert "repair_certificate" not in {d.kind for d in result.documents}
    timeline = await events(h, s.repair_id)
    assert "quote_declined" in timeline
    assert timeline[-1] == "returned_unrepaired"
    assert (await case_row(h, s.repair_id)).status == "returned_unrepaired"


async def test_an_unanswered_quote_expires(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    policy = Policy(quote_valid_for=timedelta(hours=4))
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False, policy=policy)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    view = await handle.execute_update(
        typed(RepairWorkflow.diagnose), diagnosis(center, [TWO_SCREWS])
    )
    assert view.quote_expires_at is not None
    valid_for = view.quote_expires_at - await now(h)
    assert timedelta(hours=3, minutes=59) < valid_for <= timedelta(hours=4)

    await h.env.sleep(timedelta(hours=3))
    assert (await case_row(h, s.repair_id)).status == "awaiting_approval"
    await h.env.sleep(timedelta(hours=2))
    await until_status(h, s.repair_id, "ready_to_ship")
    timeline = await events(h, s.repair_id)
    assert timeline[-1] == "quote_expired"
    assert (await case_row(h, s.repair_id)).data["quote"]["outcome"] == "expired"
    assert "shipping_label" in await document_kinds(h, s.repair_id)

    # Too late to approve now.
    await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=True)
        ),
        S.READY_TO_SHIP,
    )
    result = await deliver_back(h, handle, s.repair_id)
    assert result.status == "returned_unrepaired"


async def test_qa_fail_once_goes_back_to_the_bench(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center))
    await report_status(handle, S.QUALITY_CHECK, center)

    view = await handle.execute_update(
        typed(RepairWorkflow.report_qa), QaReport(center.actor, passed=False, notes="creaks")
    )
    assert view.status == "repairing"
    assert (await case_row(h, s.repair_id)).data["qa_failures"] == 1
    assert "repair_certificate" not in await document_kinds(h, s.repair_id)
    assert (await bench_to_ready(handle, center)).status == "ready_to_ship"
    assert "repair_certificate" in await document_kinds(h, s.repair_id)
    assert (await deliver_back(h, handle, s.repair_id)).status == "completed"
    timeline = await events(h, s.repair_id)
    assert timeline.index("qa_failed") < timeline.index("qa_passed")


async def test_sla_breach_is_flagged_once(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    policy = Policy(repair_turnaround=timedelta(hours=2))
    s = repair_start(h, category, direct=False, policy=policy)
    handle, _ = await open_repair(h, s)
    await h.env.sleep(timedelta(hours=1))
    assert (await sla(h, s.repair_id))["breached"] is False
    await h.env.sleep(timedelta(hours=2))

    async def breached() -> bool:
        return bool((await sla(h, s.repair_id))["breached"])

    await eventually(breached, what="the SLA breach")
    assert (await events(h, s.repair_id)).count("sla_breached") == 1
    await h.env.sleep(timedelta(hours=5))
    await report_status(handle, S.DIAGNOSING, center)
    view = await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center))
    assert view.sla_breached is True
    await bench_to_ready(handle, center)
    result = await deliver_back(h, handle, s.repair_id)
    assert result.sla_breached is True
    assert (await events(h, s.repair_id)).count("sla_breached") == 1
    assert (await sla(h, s.repair_id))["breached"] is True


@pytest.mark.parametrize(("hours_after_approval", "breached"), [(1, False), (6, True)])
async def test_sla_pauses_while_the_quote_waits(
    harness: Harness, hours_after_approval: int, breached: bool
) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    policy = Policy(repair_turnaround=timedelta(hours=5))
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False, policy=policy)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center, [TWO_SCREWS]))

    await h.env.sleep(timedelta(hours=10))  # twice the turnaround, but the customer's time
    assert (await sla(h, s.repair_id))["breached"] is False
    view = await handle.execute_update(
        typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=True)
    )
    assert (view.status, view.sla_breached) == ("awaiting_parts", False)
    clock = (await sla(h, s.repair_id))["pauses"]
    assert len(clock) == 1
    paused = datetime.fromisoformat(clock[0][1]) - datetime.fromisoformat(clock[0][0])
    assert paused >= timedelta(hours=10)

    await h.env.sleep(timedelta(hours=hours_after_approval))
    await report_status(handle, S.REPAIRING, center)
    view = await bench_to_ready(handle, center)
    assert (view.status, view.sla_breached) == ("ready_to_ship", breached)
    assert (await sla(h, s.repair_id))["breached"] is breached
    assert (await events(h, s.repair_id)).count("sla_breached") == int(breached)
    assert (await deliver_back(h, handle, s.repair_id)).sla_breached is breached


async def test_no_center_fits_is_unroutable(harness: Harness) -> None:
    h = harness
    await add_center(h, new_category())
    s = repair_start(h, new_category())
    handle, view = await open_repair(h, s)
    assert (view.status, view.assigned_center) == ("unroutable", None)
    result = await handle.result()
    assert result.status == "unroutable"
    assert result.shipments == []
    row = await case_row(h, s.repair_id)
    assert (row.status, row.reason, row.receiving_org_id) == ("unroutable", "unroutable", None)
    assert await events(h, s.repair_id) == ["created", "unroutable"]
    assert await shipments(h, s.repair_id, "inbound") == []


async def test_cancel_while_awaiting_the_unit_voids_the_label(harness: Harness) -> None:
    h = harness
    category = new_category()
    await add_center(h, category)
    s = repair_start(h, category)
    handle, _ = await open_repair(h, s)
    await inbound_tracking(h, s.repair_id)
    view = await handle.execute_update(
        typed(RepairWorkflow.cancel), RepairCancel(RETAILER, reason="customer changed mind")
    )
    assert view.status == "cancelled"
    assert (await handle.result()).status == "cancelled"
    assert [x.status for x in await shipments(h, s.repair_id, "inbound")] == ["voided"]
    row = await case_row(h, s.repair_id)
    assert row.status == "cancelled"
    assert (await events(h, s.repair_id))[-1] == "cancelled"


async def test_cancel_while_diagnosing(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    view = await handle.execute_update(typed(RepairWorkflow.cancel), RepairCancel(RETAILER))
    assert view.status == "cancelled"
    assert (await handle.result()).status == "cancelled"
    async with h.sessions() as session:
        last = await session.scalar(
            select(models.TimelineEvent)
            .where(models.TimelineEvent.case_id == s.repair_id)
            .order_by(models.TimelineEvent.seq.desc())
            .limit(1)
        )
    assert last is not None
    assert (last.event, last.detail.get("unit")) == ("cancelled", "held_at_center")


async def test_cancel_after_a_shipped_in_unit_arrived(harness: Harness) -> None:
    """A parcel on its way cannot be cancelled, but once the unit is at the center the job
    may still be cancelled before repairing, as the transition table says."""
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category)
    handle, _ = await open_repair(h, s)
    tracking = await inbound_tracking(h, s.repair_id)
    await carrier_scan(h, handle, s.repair_id, tracking, CarrierStatus.PICKED_UP)
    await expect_invalid(
        handle.execute_update(typed(RepairWorkflow.cancel), RepairCancel(RETAILER)), S.AWAITING_UNIT
    )
    await carrier_scan(h, handle, s.repair_id, tracking, CarrierStatus.DELIVERED)
    await report_status(handle, S.RECEIVED, center)
    await report_status(handle, S.DIAGNOSING, center)
    view = await handle.execute_update(typed(RepairWorkflow.cancel), RepairCancel(RETAILER))
    assert view.status == "cancelled"
    assert (await handle.result()).status == "cancelled"
    # The label was used: it is not voided.
    assert [x.status for x in await shipments(h, s.repair_id, "inbound")] != ["voided"]


async def test_cancel_is_refused_once_repairing(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center))
    before = await events(h, s.repair_id)
    await expect_invalid(
        handle.execute_update(typed(RepairWorkflow.cancel), RepairCancel(RETAILER)), S.REPAIRING
    )
    assert (await handle.query(RepairWorkflow.current)).status == "repairing"
    assert (await case_row(h, s.repair_id)).status == "repairing"
    assert await events(h, s.repair_id) == before
    await bench_to_ready(handle, center)
    assert (await deliver_back(h, handle, s.repair_id)).status == "completed"


async def test_out_of_order_commands_are_refused_and_change_nothing(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    before = await events(h, s.repair_id)

    cause = await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.report_status), StatusChange(center.actor, S.QUALITY_CHECK)
        ),
        S.RECEIVED,
    )
    assert cause.details[0]["allowed"] == ["cancelled", "diagnosing"]
    await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.report_status), StatusChange(center.actor, S.COMPLETED)
        ),
        S.RECEIVED,
    )
    await expect_invalid(
        handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center)), S.RECEIVED
    )
    await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=True)
        ),
        S.RECEIVED,
    )
    assert await events(h, s.repair_id) == before
    assert (await case_row(h, s.repair_id)).status == "received"

    await report_status(handle, S.DIAGNOSING, center)
    before = await events(h, s.repair_id)
    await expect_invalid(
        handle.execute_update(typed(RepairWorkflow.report_qa), QaReport(center.actor, passed=True)),
        S.DIAGNOSING,
    )
    await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=False)
        ),
        S.DIAGNOSING,
    )
    await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.report_status), StatusChange(center.actor, S.RECEIVED)
        ),
        S.DIAGNOSING,
    )
    assert await events(h, s.repair_id) == before
    assert (await case_row(h, s.repair_id)).status == "diagnosing"

    # Covered: no quote waits, so there is nothing to decide.
    await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center, [TWO_SCREWS]))
    before = await events(h, s.repair_id)
    await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=True)
        ),
        S.AWAITING_PARTS,
    )
    await expect_invalid(
        handle.execute_update(
            typed(RepairWorkflow.report_status), StatusChange(center.actor, S.QUALITY_CHECK)
        ),
        S.AWAITING_PARTS,
    )
    assert await events(h, s.repair_id) == before
    assert (await case_row(h, s.repair_id)).status == "awaiting_parts"
    await handle.execute_update(typed(RepairWorkflow.cancel), RepairCancel(RETAILER))
    assert (await handle.result()).status == "cancelled"


async def test_routing_prefers_the_least_loaded_center(harness: Harness) -> None:
    h = harness
    category = new_category()
    # On equal load the smaller org id wins, so `small` is the tie-break favourite.
    small = await add_center(h, category, capacity=1, org_id=f"0{uuid.uuid4().hex[:20]}")
    large = await add_center(h, category, capacity=5, org_id=f"z{uuid.uuid4().hex[:20]}")

    async def route_one() -> tuple[RepairHandle, str | None]:
        s = repair_start(h, category, direct=False)
        handle, view = await open_repair(h, s)
        assert view.status == "received"
        assert (await case_row(h, s.repair_id)).receiving_org_id == view.assigned_center
        return handle, view.assigned_center

    first, center = await route_one()
    assert center == small.org_id  # 0/1 against 0/5
    second, center = await route_one()
    assert center == large.org_id  # 1/1 against 0/5
    third, center = await route_one()
    assert center == large.org_id  # 1/1 against 1/5
    await first.execute_update(typed(RepairWorkflow.cancel), RepairCancel(RETAILER))
    await first.result()
    fourth, center = await route_one()
    assert center == small.org_id  # a closed job no longer counts: 0/1 against 2/5
    for handle in (second, third, fourth):
        await handle.execute_update(typed(RepairWorkflow.cancel), RepairCancel(RETAILER))


async def test_an_rma_resolved_by_repair_runs_the_repair_as_its_child(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = rma_start(
        h,
        now=await now(h),
        resolution=Resolution.REPAIR,
        price="300.00",
        category=category,
        repair_tracking_token=new_tracking_token(),
    )
    rma, view = await open_rma(h, s)
    assert view.status == "awaiting_return"

    tracking = await inbound_tracking(h, s.rma_id)
    (inbound,) = await shipments(h, s.rma_id, "inbound")
    assert inbound.to_address["line1"] == center.line1
    assert (await case_row(h, s.rma_id)).receiving_org_id == center.org_id

    await rma.signal(RmaWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP))
    view = await rma.execute_update(typed(RmaWorkflow.receive), ReceiveRequest(actor=center.actor))
    assert view.status == "received"
    view = await rma.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(center.actor, Grade.D, True)
    )
    assert view.status == "resolving"

    repair_id = child_case_id(s.rma_id, "REP")

    async def repair_started() -> bool:
        # The child records its own case: it may land just after the parent's event.
        async with h.sessions() as session:
            recorded = await session.get(models.Case, repair_id) is not None
        return recorded and "repair_started" in await events(h, s.rma_id)

    await eventually(repair_started, what="the repair child")
    assert (await case_row(h, s.rma_id)).links["repair_id"] == repair_id
    child = await case_row(h, repair_id)
    assert (child.status, child.links, child.receiving_org_id) == (
        "received",
        {"rma_id": s.rma_id},
        center.org_id,
    )
    assert child.tracking_token == s.repair_tracking_token
    assert await shipments(h, repair_id, "inbound") == []  # the unit is at the center

    repair = h.env.client.get_workflow_handle_for(RepairWorkflow.run, repair_workflow_id(repair_id))
    await report_status(repair, S.DIAGNOSING, center)
    assert (
        await repair.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center))
    ).status == "repairing"
    await bench_to_ready(repair, center)
    assert (await deliver_back(h, repair, repair_id)).status == "completed"

    result = await rma.result()
    assert (result.status, result.outcome) == ("completed", "repaired")
    row = await case_row(h, s.rma_id)
    assert (row.status, row.outcome) == ("completed", "repaired")
    assert (await events(h, s.rma_id))[-1] == "repaired"


LATE_COMMANDS = [
    pytest.param(RepairWorkflow.decide_quote, QuoteDecision(RETAILER, approve=True), id="approve"),
    pytest.param(RepairWorkflow.decide_quote, QuoteDecision(RETAILER, approve=False), id="decline"),
    pytest.param(RepairWorkflow.cancel, RepairCancel(RETAILER), id="cancel"),
]


@pytest.mark.parametrize(("command", "request_"), LATE_COMMANDS)
async def test_a_command_racing_the_quote_expiry_is_refused(
    harness: Harness, command: Any, request_: Any
) -> None:
    """The quote has expired and the return parcel is being booked (the status still reads
    awaiting_approval): a late command must neither reopen nor end the job."""
    h = harness
    category = new_category()
    center = await add_center(h, category)
    policy = Policy(quote_valid_for=timedelta(hours=1))
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False, policy=policy)
    # The booking of the return parcel (the first step after the expiry) is held at its
    # start: this widens the moment a real carrier call takes into a reliable window.
    gate = Gate()
    outbound = held_activity(h, "book_shipment", gate, lambda r: r.direction == "outbound")
    async with side_worker(h, {"book_shipment": outbound}) as queue:
        # The booking is a local activity: a command reaches the job only when the worker
        # heartbeats the task the booking holds, at 0.8 of its timeout (8 s by default).
        handle, _ = await open_repair(h, s, queue, task_timeout=timedelta(seconds=2))
        await report_status(handle, S.DIAGNOSING, center)
        view = await handle.execute_update(
            typed(RepairWorkflow.diagnose), diagnosis(center, [TWO_SCREWS])
        )
        assert view.quote_expires_at is not None
        # Skip to just short of the expiry and let the last second pass in real time: the
        # test server does not skip time while the booking is held, so skipping would stall.
        short_of_expiry = view.quote_expires_at - await now(h)
        await h.env.sleep(short_of_expiry - timedelta(seconds=1))
        await asyncio.wait_for(gate.reached.wait(), 30)
        assert (await case_row(h, s.repair_id)).status == "awaiting_approval"
        late: WorkflowUpdateHandle[RepairView] | None = None
        refusal: BaseException | None = None
        try:
            late = await handle.start_update(
                typed(command), request_, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
        except WorkflowUpdateFailedError as refused:
            refusal = refused.cause
        gate.opened.set()
        if late is not None:
            # A validator's refusal may surface only with the outcome.
            try:
                applied = await late.result()
            except WorkflowUpdateFailedError as refused:
                refusal = refused.cause
            else:
                pytest.fail(
                    f"the late {command.__name__} was accepted: the job is now {applied.status}"
                )
        assert isinstance(refusal, ApplicationError)
        assert refusal.type == "invalid_transition"
        await until_status(h, s.repair_id, "ready_to_ship")
        assert (await events(h, s.repair_id))[-1] == "quote_expired"
        assert (await case_row(h, s.repair_id)).data["quote"]["outcome"] == "expired"
        assert (await deliver_back(h, handle, s.repair_id)).status == "returned_unrepaired"


# ------------------------------------------------ last: they leave a child after its parent
# A job beyond repair closes while the replacement it started lives on; ending that child
# then, however idle, now and then leaves the time-skipping server's clock locked for good,
# and every later test that sleeps on it times out. So these run after all the others.


async def test_qa_fail_twice_is_beyond_repair(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    await handle.execute_update(typed(RepairWorkflow.diagnose), diagnosis(center))
    for _ in range(2):
        await report_status(handle, S.QUALITY_CHECK, center)
        view = await handle.execute_update(
            typed(RepairWorkflow.report_qa), QaReport(center.actor, passed=False)
        )
    assert view.status == "beyond_repair"
    result = await handle.result()
    assert result.status == "beyond_repair"
    assert await shipments(h, s.repair_id, "outbound") == []
    row = await case_row(h, s.repair_id)
    assert (row.status, row.reason) == ("beyond_repair", "qa_failed_twice")
    assert (await events(h, s.repair_id)).count("qa_failed") == 1
    await replacement_handed_over(h, s.repair_id)


async def test_not_repairable_is_beyond_repair(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    await report_status(handle, S.DIAGNOSING, center)
    view = await handle.execute_update(
        typed(RepairWorkflow.diagnose), diagnosis(center, repairable=False)
    )
    assert view.status == "beyond_repair"
    assert (await handle.result()).status == "beyond_repair"
    row = await case_row(h, s.repair_id)
    assert (row.status, row.reason) == ("beyond_repair", "not_repairable")
    assert row.data["diagnosis"]["repairable"] is False
    assert "repair_certificate" not in await document_kinds(h, s.repair_id)
    await replacement_handed_over(h, s.repair_id)
