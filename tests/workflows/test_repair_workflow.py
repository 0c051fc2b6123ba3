"""The repair workflow on the time-skipping server: routing, the bench, quotes, QA, the SLA
clock, cancellation, and the repair an RMA starts as its child."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from db import models
from domain.common import Address, CarrierEvent, CarrierStatus, Customer, Policy
from domain.ids import (
    child_case_id,
    new_tracking_token,
    repair_workflow_id,
    replacement_workflow_id,
    rma_workflow_id,
)
from domain.repair import (
    REPAIR_TRANSITIONS,
    Diagnosis,
    Part,
    QaReport,
    QuoteDecision,
    RepairCancel,
    RepairCoverage,
    RepairResult,
    RepairStart,
    RepairStatus,
    RepairUnit,
    RepairView,
    StatusChange,
)
from domain.rma import (
    Actor,
    Grade,
    InspectionRequest,
    ReceiveRequest,
    Resolution,
    ReturnReason,
    RmaItem,
    RmaResult,
    RmaStart,
    RmaView,
)
from tests.workflows.conftest import Harness

S = RepairStatus
Handle = WorkflowHandle[Any, Any]

RETAILER = Actor("retailer", "org")
CUSTOMER_ADDRESS = Address(
    line1="12 Analytical Row", city="London", postal_code="10001", country="US"
)
TWO_SCREWS = Part("P-100", "Hinge screw", 2, Decimal("12.50"))

# ------------------------------------------------------------------------ helpers


@dataclass
class Center:
    org_id: str
    line1: str

    @property
    def actor(self) -> Actor:
        return Actor("repair_center", self.org_id)


def new_category() -> str:
    """A category of its own per test, so that no test routes to another's centers."""
    return f"cat-{uuid.uuid4().hex[:8]}"


async def add_center(
    h: Harness, category: str, *, capacity: int = 5, org_id: str | None = None
) -> Center:
    line1 = f"{uuid.uuid4().int % 900 + 100} Bench Road"
    async with h.sessions.begin() as session:
        org = models.Organisation(name=f"Fixit {line1}", kind="repair_center")
        if org_id is not None:
            org.id = org_id
        session.add(org)
        await session.flush()
        session.add(
            models.RepairCenter(
                org_id=org.id,
                categories=[category],
                regions=["US"],
                daily_capacity=capacity,
                labor_rate=Decimal("60.00"),
                currency="USD",
                address={
                    "line1": line1,
                    "city": "Toolton",
                    "postal_code": "55555",
                    "country": "US",
                },
            )
        )
    return Center(org.id, line1)


def repair_start(
    h: Harness,
    category: str,
    *,
    coverage: RepairCoverage = RepairCoverage.WARRANTY,
    direct: bool = True,
    policy: Policy | None = None,
) -> RepairStart:
    """A repair the retailer opens itself: `direct` ships the unit from the customer to the
    center; otherwise the unit is at the center already and the job starts `received`."""
    return RepairStart(
        repair_id=f"REP-TEST-{uuid.uuid4().hex[:10].upper()}",
        org_id=h.org_id,
        org_name="Test Retailer",
        tracking_token=new_tracking_token(),
        unit=RepairUnit(
            sku="SKU-R1",
            serial=f"SN-{uuid.uuid4().hex[:8]}",
            product_name="Laptop",
            category=category,
            unit_price=Decimal("899.00"),
        ),
        fault="Hinge cracked",
        customer=Customer(name="Ada Lovelace", email="ada@example.com", address=CUSTOMER_ADDRESS),
        coverage=coverage,
        policy=policy or Policy(),
        public_base_url="http://aftersales.test",
        unit_origin=CUSTOMER_ADDRESS if direct else None,
    )


async def open_repair(h: Harness, s: RepairStart) -> tuple[Handle, RepairView]:
    """Start the job and get the create call's answer in one round trip, as the API does."""
    operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        "Repair",
        s,
        id=repair_workflow_id(s.repair_id),
        task_queue=h.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        result_type=RepairResult,
    )
    view: RepairView = await h.env.client.execute_update_with_start_workflow(
        "accept", start_workflow_operation=operation, result_type=RepairView
    )
    return await operation.workflow_handle(), view


async def send(handle: Handle, name: str, arg: Any) -> RepairView:
    view: RepairView = await handle.execute_update(name, arg, result_type=RepairView)
    return view


async def report(handle: Handle, status: RepairStatus, center: Center) -> RepairView:
    return await send(handle, "report_status", StatusChange(center.actor, status))


def diagnosis(center: Center, parts: list[Part] | None = None, **kw: Any) -> Diagnosis:
    fields: dict[str, Any] = {
        "fault_code": "HNG-01",
        "findings": "Left hinge cracked",
        "labor_minutes": 90,
        "repairable": True,
    }
    fields.update(kw)
    return Diagnosis(actor=center.actor, parts=parts or [], **fields)


async def case_row(h: Harness, case_id: str) -> models.Case:
    async with h.sessions() as session:
        case = await session.get(models.Case, case_id)
        assert case is not None, case_id
        return case


async def events(h: Harness, case_id: str) -> list[str]:
    async with h.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(models.TimelineEvent.event)
                    .where(models.TimelineEvent.case_id == case_id)
                    .order_by(models.TimelineEvent.seq)
                )
            ).all()
        )


async def shipments(h: Harness, case_id: str, direction: str) -> list[models.Shipment]:
    async with h.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(models.Shipment)
                    .where(models.Shipment.case_id == case_id)
                    .where(models.Shipment.direction == direction)
                    .order_by(models.Shipment.created_at)
                )
            ).all()
        )


async def documents(h: Harness, case_id: str) -> dict[str, models.Document]:
    async with h.sessions() as session:
        rows = (
            await session.scalars(select(models.Document).where(models.Document.case_id == case_id))
        ).all()
    return {row.kind: row for row in rows}


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll the read model in real time (the workflow clock is left alone)."""
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def until_status(h: Harness, case_id: str, status: str) -> None:
    async def reached() -> bool:
        return (await case_row(h, case_id)).status == status

    await eventually(reached, f"{case_id} to be {status}")


async def until_event(h: Harness, case_id: str, event: str) -> None:
    async def seen() -> bool:
        return event in await events(h, case_id)

    await eventually(seen, f"{event} on {case_id}")


async def inbound_tracking(h: Harness, case_id: str) -> str:
    await until_event(h, case_id, "label_created")
    (parcel,) = await shipments(h, case_id, "inbound")
    return parcel.tracking_number


def scan(tracking: str, status: CarrierStatus) -> CarrierEvent:
    return CarrierEvent(
        event_id=uuid.uuid4().hex,
        tracking_number=tracking,
        status=status,
        occurred_at=datetime.now(UTC),  # the carrier's own clock: informative only
        location="Depot",
    )


async def carrier_scan(
    h: Harness, handle: Handle, case_id: str, tracking: str, status: CarrierStatus
) -> None:
    """Signal a scan and wait until the workflow has put it on the timeline."""
    before = (await events(h, case_id)).count(f"carrier_{status.value}")
    await handle.signal("carrier_event", scan(tracking, status))

    async def applied() -> bool:
        return (await events(h, case_id)).count(f"carrier_{status.value}") > before

    await eventually(applied, f"carrier_{status.value} on {case_id}")


async def deliver_back(h: Harness, handle: Handle, case_id: str) -> RepairResult:
    """The return parcel is picked up and delivered; the job ends."""
    (parcel,) = await shipments(h, case_id, "outbound")
    await carrier_scan(h, handle, case_id, parcel.tracking_number, CarrierStatus.PICKED_UP)
    assert (await case_row(h, case_id)).status == "shipped"
    await handle.signal("carrier_event", scan(parcel.tracking_number, CarrierStatus.DELIVERED))
    result: RepairResult = await handle.result()
    return result


async def bench_to_ready(h: Harness, handle: Handle, center: Center) -> RepairView:
    """From `repairing`: to quality check and a pass."""
    assert (await report(handle, S.QUALITY_CHECK, center)).status == "quality_check"
    return await send(handle, "report_qa", QaReport(center.actor, passed=True, notes="ok"))


async def expect_invalid(
    handle: Handle, name: str, arg: Any, status: RepairStatus
) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await send(handle, name, arg)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "invalid_transition"
    assert cause.details[0]["current_status"] == status.value
    assert cause.details[0]["allowed"] == sorted(s.value for s in REPAIR_TRANSITIONS[status])
    return cause


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

    async def idle() -> bool:
        # Terminating a workflow in the middle of a task leaves the test server's clock
        # locked for good: wait until the child has settled (backordered, no task running).
        description = await child.describe()
        async with h.sessions() as session:
            row = await session.get(models.Case, replacement_id)
        return (
            row is not None
            and row.status == "backordered"
            and not description.raw_description.HasField("pending_workflow_task")
        )

    await eventually(idle, "the replacement to settle")
    await child.terminate(reason="test cleanup: the replacement is not under test here")


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

    assert (await report(handle, S.RECEIVED, center)).status == "received"
    assert (await report(handle, S.DIAGNOSING, center)).status == "diagnosing"
    view = await send(handle, "diagnose", diagnosis(center))
    assert (view.status, view.quote) == ("repairing", None)
    view = await bench_to_ready(h, handle, center)
    assert view.status == "ready_to_ship"

    docs = await documents(h, s.repair_id)
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
    await report(handle, S.DIAGNOSING, center)

    view = await send(handle, "diagnose", diagnosis(center, [TWO_SCREWS], labor_minutes=90))
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

    view = await send(handle, "decide_quote", QuoteDecision(RETAILER, approve=True))
    assert view.status == "awaiting_parts"
    assert (await case_row(h, s.repair_id)).data["quote"]["outcome"] == "approved"
    assert (await report(handle, S.REPAIRING, center)).status == "repairing"
    assert (await bench_to_ready(h, handle, center)).status == "ready_to_ship"
    assert "repair_certificate" in await documents(h, s.repair_id)

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


async def test_paid_repair_declined_goes_back_unrepaired(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False)
    handle, _ = await open_repair(h, s)
    await report(handle, S.DIAGNOSING, center)
    await send(handle, "diagnose", diagnosis(center, [TWO_SCREWS]))

    view = await send(handle, "decide_quote", QuoteDecision(RETAILER, approve=False))
    assert view.status == "ready_to_ship"
    docs = await documents(h, s.repair_id)
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
    await report(handle, S.DIAGNOSING, center)
    view = await send(handle, "diagnose", diagnosis(center, [TWO_SCREWS]))
    assert view.quote_expires_at is not None
    valid_for = view.quote_expires_at - await h.env.get_current_time()
    assert timedelta(hours=3, minutes=59) < valid_for <= timedelta(hours=4)

    await h.env.sleep(timedelta(hours=3))
    assert (await case_row(h, s.repair_id)).status == "awaiting_approval"
    await h.env.sleep(timedelta(hours=2))
    await until_status(h, s.repair_id, "ready_to_ship")
    timeline = await events(h, s.repair_id)
    assert timeline[-1] == "quote_expired"
    assert (await case_row(h, s.repair_id)).data["quote"]["outcome"] == "expired"
    assert "shipping_label" in await documents(h, s.repair_id)

    # Too late to approve now.
    await expect_invalid(
        handle, "decide_quote", QuoteDecision(RETAILER, approve=True), S.READY_TO_SHIP
    )
    result = await deliver_back(h, handle, s.repair_id)
    assert result.status == "returned_unrepaired"


async def test_qa_fail_once_goes_back_to_the_bench(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    await report(handle, S.DIAGNOSING, center)
    await send(handle, "diagnose", diagnosis(center))
    await report(handle, S.QUALITY_CHECK, center)

    view = await send(handle, "report_qa", QaReport(center.actor, passed=False, notes="creaks"))
    assert view.status == "repairing"
    assert (await case_row(h, s.repair_id)).data["qa_failures"] == 1
    assert "repair_certificate" not in await documents(h, s.repair_id)
    assert (await bench_to_ready(h, handle, center)).status == "ready_to_ship"
    assert "repair_certificate" in await documents(h, s.repair_id)
    assert (await deliver_back(h, handle, s.repair_id)).status == "completed"
    timeline = await events(h, s.repair_id)
    assert timeline.index("qa_failed") < timeline.index("qa_passed")


async def test_qa_fail_twice_is_beyond_repair(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    await report(handle, S.DIAGNOSING, center)
    await send(handle, "diagnose", diagnosis(center))
    for _ in range(2):
        await report(handle, S.QUALITY_CHECK, center)
        view = await send(handle, "report_qa", QaReport(center.actor, passed=False))
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
    await report(handle, S.DIAGNOSING, center)
    view = await send(handle, "diagnose", diagnosis(center, repairable=False))
    assert view.status == "beyond_repair"
    assert (await handle.result()).status == "beyond_repair"
    row = await case_row(h, s.repair_id)
    assert (row.status, row.reason) == ("beyond_repair", "not_repairable")
    assert row.data["diagnosis"]["repairable"] is False
    assert "repair_certificate" not in await documents(h, s.repair_id)
    await replacement_handed_over(h, s.repair_id)


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

    await eventually(breached, "the SLA breach")
    assert (await events(h, s.repair_id)).count("sla_breached") == 1
    await h.env.sleep(timedelta(hours=5))
    await report(handle, S.DIAGNOSING, center)
    view = await send(handle, "diagnose", diagnosis(center))
    assert view.sla_breached is True
    await bench_to_ready(h, handle, center)
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
    await report(handle, S.DIAGNOSING, center)
    await send(handle, "diagnose", diagnosis(center, [TWO_SCREWS]))

    await h.env.sleep(timedelta(hours=10))  # twice the turnaround, but the customer's time
    assert (await sla(h, s.repair_id))["breached"] is False
    view = await send(handle, "decide_quote", QuoteDecision(RETAILER, approve=True))
    assert (view.status, view.sla_breached) == ("awaiting_parts", False)
    clock = (await sla(h, s.repair_id))["pauses"]
    assert len(clock) == 1
    paused = datetime.fromisoformat(clock[0][1]) - datetime.fromisoformat(clock[0][0])
    assert paused >= timedelta(hours=10)

    await h.env.sleep(timedelta(hours=hours_after_approval))
    await report(handle, S.REPAIRING, center)
    view = await bench_to_ready(h, handle, center)
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
    view = await send(handle, "cancel", RepairCancel(RETAILER, reason="customer changed mind"))
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
    await report(handle, S.DIAGNOSING, center)
    view = await send(handle, "cancel", RepairCancel(RETAILER))
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
    await expect_invalid(handle, "cancel", RepairCancel(RETAILER), S.AWAITING_UNIT)
    await carrier_scan(h, handle, s.repair_id, tracking, CarrierStatus.DELIVERED)
    await report(handle, S.RECEIVED, center)
    await report(handle, S.DIAGNOSING, center)
    view = await send(handle, "cancel", RepairCancel(RETAILER))
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
    await report(handle, S.DIAGNOSING, center)
    await send(handle, "diagnose", diagnosis(center))
    before = await events(h, s.repair_id)
    await expect_invalid(handle, "cancel", RepairCancel(RETAILER), S.REPAIRING)
    assert (await handle.query("current", result_type=RepairView)).status == "repairing"
    assert (await case_row(h, s.repair_id)).status == "repairing"
    assert await events(h, s.repair_id) == before
    await bench_to_ready(h, handle, center)
    assert (await deliver_back(h, handle, s.repair_id)).status == "completed"


async def test_out_of_order_commands_are_refused_and_change_nothing(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, direct=False)
    handle, _ = await open_repair(h, s)
    before = await events(h, s.repair_id)

    cause = await expect_invalid(
        handle, "report_status", StatusChange(center.actor, S.QUALITY_CHECK), S.RECEIVED
    )
    assert cause.details[0]["allowed"] == ["cancelled", "diagnosing"]
    await expect_invalid(
        handle, "report_status", StatusChange(center.actor, S.COMPLETED), S.RECEIVED
    )
    await expect_invalid(handle, "diagnose", diagnosis(center), S.RECEIVED)
    await expect_invalid(handle, "decide_quote", QuoteDecision(RETAILER, approve=True), S.RECEIVED)
    assert await events(h, s.repair_id) == before
    assert (await case_row(h, s.repair_id)).status == "received"

    await report(handle, S.DIAGNOSING, center)
    before = await events(h, s.repair_id)
    await expect_invalid(handle, "report_qa", QaReport(center.actor, passed=True), S.DIAGNOSING)
    await expect_invalid(
        handle, "decide_quote", QuoteDecision(RETAILER, approve=False), S.DIAGNOSING
    )
    await expect_invalid(
        handle, "report_status", StatusChange(center.actor, S.RECEIVED), S.DIAGNOSING
    )
    assert await events(h, s.repair_id) == before
    assert (await case_row(h, s.repair_id)).status == "diagnosing"

    # Covered: no quote waits, so there is nothing to decide.
    await send(handle, "diagnose", diagnosis(center, [TWO_SCREWS]))
    before = await events(h, s.repair_id)
    await expect_invalid(
        handle, "decide_quote", QuoteDecision(RETAILER, approve=True), S.AWAITING_PARTS
    )
    await expect_invalid(
        handle, "report_status", StatusChange(center.actor, S.QUALITY_CHECK), S.AWAITING_PARTS
    )
    assert await events(h, s.repair_id) == before
    assert (await case_row(h, s.repair_id)).status == "awaiting_parts"
    await send(handle, "cancel", RepairCancel(RETAILER))
    assert (await handle.result()).status == "cancelled"


async def test_routing_prefers_the_least_loaded_center(harness: Harness) -> None:
    h = harness
    category = new_category()
    # On equal load the smaller org id wins, so `small` is the tie-break favourite.
    small = await add_center(h, category, capacity=1, org_id=f"0{uuid.uuid4().hex[:20]}")
    large = await add_center(h, category, capacity=5, org_id=f"z{uuid.uuid4().hex[:20]}")

    async def route_one() -> tuple[Handle, str | None]:
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
    await send(first, "cancel", RepairCancel(RETAILER))
    await first.result()
    fourth, center = await route_one()
    assert center == small.org_id  # a closed job no longer counts: 0/1 against 2/5
    for handle in (second, third, fourth):
        await send(handle, "cancel", RepairCancel(RETAILER))


def rma_for_repair(h: Harness, *, now: datetime, category: str) -> RmaStart:
    return RmaStart(
        rma_id=f"RMA-TEST-{uuid.uuid4().hex[:10].upper()}",
        org_id=h.org_id,
        org_name="Test Retailer",
        tracking_token=new_tracking_token(),
        order_ref="SO-9",
        purchased_at=now - timedelta(days=5),
        customer=Customer(name="Grace Hopper", email="grace@example.com", address=CUSTOMER_ADDRESS),
        items=[
            RmaItem(
                sku="SKU-R2",
                serial=f"SN-{uuid.uuid4().hex[:8]}",
                quantity=1,
                reason=ReturnReason.DEFECTIVE,
                unit_price=Decimal("300.00"),
                product_name="Speaker",
                category=category,
                warranty_months=12,
            )
        ],
        resolution=Resolution.REPAIR,
        policy=Policy(),
        public_base_url="http://aftersales.test",
        repair_tracking_token=new_tracking_token(),
    )


async def test_an_rma_resolved_by_repair_runs_the_repair_as_its_child(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = rma_for_repair(h, now=await h.env.get_current_time(), category=category)
    rma = await h.env.client.start_workflow(
        "Rma",
        s,
        id=rma_workflow_id(s.rma_id),
        task_queue=h.settings.task_queue,
        result_type=RmaResult,
    )
    view: RmaView = await rma.execute_update("authorize", result_type=RmaView)
    assert view.status == "awaiting_return"

    tracking = await inbound_tracking(h, s.rma_id)
    (inbound,) = await shipments(h, s.rma_id, "inbound")
    assert inbound.to_address["line1"] == center.line1
    assert (await case_row(h, s.rma_id)).receiving_org_id == center.org_id

    await rma.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
    view = await rma.execute_update(
        "receive", ReceiveRequest(actor=center.actor), result_type=RmaView
    )
    assert view.status == "received"
    view = await rma.execute_update(
        "inspect", InspectionRequest(center.actor, Grade.D, True), result_type=RmaView
    )
    assert view.status == "resolving"

    repair_id = child_case_id(s.rma_id, "REP")

    async def repair_started() -> bool:
        # The child records its own case: it may land just after the parent's event.
        async with h.sessions() as session:
            recorded = await session.get(models.Case, repair_id) is not None
        return recorded and "repair_started" in await events(h, s.rma_id)

    await eventually(repair_started, "the repair child")
    assert (await case_row(h, s.rma_id)).links["repair_id"] == repair_id
    child = await case_row(h, repair_id)
    assert (child.status, child.links, child.receiving_org_id) == (
        "received",
        {"rma_id": s.rma_id},
        center.org_id,
    )
    assert child.tracking_token == s.repair_tracking_token
    assert await shipments(h, repair_id, "inbound") == []  # the unit is at the center

    repair: Handle = h.env.client.get_workflow_handle(
        repair_workflow_id(repair_id), result_type=RepairResult
    )
    await report(repair, S.DIAGNOSING, center)
    assert (await send(repair, "diagnose", diagnosis(center))).status == "repairing"
    await bench_to_ready(h, repair, center)
    assert (await deliver_back(h, repair, repair_id)).status == "completed"

    result: RmaResult = await rma.result()
    assert (result.status, result.outcome) == ("completed", "repaired")
    row = await case_row(h, s.rma_id)
    assert (row.status, row.outcome) == ("completed", "repaired")
    assert (await events(h, s.rma_id))[-1] == "repaired"


LATE_COMMANDS = [
    pytest.param("decide_quote", QuoteDecision(RETAILER, approve=True), id="approve"),
    pytest.param("decide_quote", QuoteDecision(RETAILER, approve=False), id="decline"),
    pytest.param(
        "cancel",
        RepairCancel(RETAILER),
        id="cancel",
    ),
]


@pytest.mark.parametrize(("name", "command"), LATE_COMMANDS)
async def test_a_command_racing_the_quote_expiry_is_refused(
    harness: Harness, name: str, command: Any
) -> None:
    """The quote has expired and the return parcel is being booked (the status still reads
    awaiting_approval): a late command must neither reopen nor end the job."""
    h = harness
    category = new_category()
    center = await add_center(h, category)
    policy = Policy(quote_valid_for=timedelta(hours=1))
    s = repair_start(h, category, coverage=RepairCoverage.PAID, direct=False, policy=policy)
    handle, _ = await open_repair(h, s)
    await report(handle, S.DIAGNOSING, center)
    view = await send(handle, "diagnose", diagnosis(center, [TWO_SCREWS]))
    assert view.quote_expires_at is not None
    # Skip to just short of the expiry and let the last second pass in real time: the test
    # server does not skip time while an activity runs, so the lock below would stall it.
    short_of_expiry = view.quote_expires_at - await h.env.get_current_time()
    await h.env.sleep(short_of_expiry - timedelta(seconds=1))

    # Hold SQLite's write lock so that booking the return parcel (the first write after the
    # expiry) waits: this widens the moment a real carrier call takes into a reliable window.
    late: WorkflowUpdateHandle[RepairView] | None = None
    async with h.sessions() as lock:
        await lock.execute(
            update(models.Organisation)
            .where(models.Organisation.id == h.org_id)
            .values(name="Test Retailer")
        )

        async def booking_started() -> bool:
            history = await handle.fetch_history()
            return any(
                e.activity_task_scheduled_event_attributes.activity_type.name == "book_shipment"
                for e in history.events
                if e.HasField("activity_task_scheduled_event_attributes")
            )

        await eventually(booking_started, "the return parcel's booking")
        assert (await case_row(h, s.repair_id)).status == "awaiting_approval"
        refusal: BaseException | None = None
        try:
            late = await handle.start_update(
                name, command, wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=RepairView
            )
        except WorkflowUpdateFailedError as refused:
            refusal = refused.cause
        await lock.rollback()

    if late is not None:
        # A validator's refusal may surface only with the outcome.
        try:
            applied = await late.result()
        except WorkflowUpdateFailedError as refused:
            refusal = refused.cause
        else:
            pytest.fail(f"the late {name} was accepted: the job is now {applied.status}")
    assert isinstance(refusal, ApplicationError)
    assert refusal.type == "invalid_transition"
    await until_status(h, s.repair_id, "ready_to_ship")
    assert (await events(h, s.repair_id))[-1] == "quote_expired"
    assert (await case_row(h, s.repair_id)).data["quote"]["outcome"] == "expired"
    assert (await deliver_back(h, handle, s.repair_id)).status == "returned_unrepaired"
