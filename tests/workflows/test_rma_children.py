"""An RMA resolved through a child case that does not end as planned (lifecycles.md §1.5,
§2, §3): what the customer's RMA shows once its repair or replacement has ended."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.common import CarrierStatus, Policy
from domain.ids import (
    child_case_id,
    new_tracking_token,
    repair_workflow_id,
    replacement_workflow_id,
)
from domain.repair import RepairStatus
from domain.rma import Grade, InspectionRequest, ReceiveRequest, Resolution, RmaStart
from tests.workflows.kit import (
    CUSTOMER_ADDRESS,
    RETAILER,
    Center,
    Harness,
    RmaHandle,
    add_center,
    add_stock,
    case_row,
    case_status,
    diagnosis,
    events,
    inbound_tracking,
    new_category,
    new_sku,
    now,
    open_rma,
    report_status,
    rma_start,
    scan,
    shipments,
    typed,
    until_event,
    until_status,
)
from workflows.repair import RepairWorkflow
from workflows.replacement import ReplacementWorkflow
from workflows.rma import RmaWorkflow


async def inspected(h: Harness, s: RmaStart, center: Center | None = None) -> RmaHandle:
    """Through label, parcel, receipt and a grade D inspection (by the repair center when
    the unit went there): the RMA is resolving through its child."""
    rma, view = await open_rma(h, s)
    assert view.status == "awaiting_return"
    tracking = await inbound_tracking(h, s.rma_id)
    await rma.signal(RmaWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP))
    actor = center.actor if center else RETAILER
    await rma.execute_update(typed(RmaWorkflow.receive), ReceiveRequest(actor))
    view = await rma.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(actor, Grade.D, serial_matches=True)
    )
    assert view.status == "resolving"
    return rma


async def test_an_unroutable_repair_sends_the_unit_back_unrepaired(harness: Harness) -> None:
    h = harness
    # No repair center takes this category: the unit comes to the retailer, and the repair
    # the RMA starts cannot be routed.
    s = rma_start(
        h,
        now=await now(h),
        resolution=Resolution.REPAIR,
        category=new_category(),
        repair_tracking_token=new_tracking_token(),
    )
    rma = await inspected(h, s)
    repair_id = child_case_id(s.rma_id, "REP")
    await until_status(h, repair_id, "unroutable")
    await until_event(h, s.rma_id, "shipping_back")
    assert (await rma.query(RmaWorkflow.current)).status == "resolving"

    (parcel,) = await shipments(h, s.rma_id, "outbound")
    assert parcel.to_address["line1"] == CUSTOMER_ADDRESS.line1
    await rma.signal(
        RmaWorkflow.carrier_event, scan(parcel.tracking_number, CarrierStatus.DELIVERED)
    )
    result = await rma.result()
    assert (result.status, result.outcome, result.refund_amount) == (
        "completed",
        "returned_unrepaired",
        None,
    )
    row = await case_row(h, s.rma_id)
    assert (row.status, row.outcome) == ("completed", "returned_unrepaired")
    timeline = await events(h, s.rma_id)
    assert timeline.index("repair_unroutable") < timeline.index("shipping_back")
    assert timeline[-1] == "returned_unrepaired"


async def test_a_repair_beyond_repair_is_replaced(harness: Harness) -> None:
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = rma_start(
        h,
        now=await now(h),
        resolution=Resolution.REPAIR,
        category=category,
        repair_tracking_token=new_tracking_token(),
    )
    s.items[0].sku = new_sku()
    await add_stock(h, s.items[0].sku, 1)
    rma = await inspected(h, s, center)

    repair_id = child_case_id(s.rma_id, "REP")
    await until_status(h, repair_id, "received")
    repair = h.env.client.get_workflow_handle_for(RepairWorkflow.run, repair_workflow_id(repair_id))
    await report_status(repair, RepairStatus.DIAGNOSING, center)
    view = await repair.execute_update(
        typed(RepairWorkflow.diagnose), diagnosis(center, repairable=False)
    )
    assert view.status == "beyond_repair"

    # The RMA, not the repair, starts the replacement: it owns the customer's outcome.
    replacement_id = child_case_id(s.rma_id, "RPL")
    await until_status(h, replacement_id, "shipped")
    assert (await case_row(h, repair_id)).links == {"rma_id": s.rma_id}
    (parcel,) = await shipments(h, replacement_id, "outbound")
    replacement = h.env.client.get_workflow_handle_for(
        ReplacementWorkflow.run, replacement_workflow_id(replacement_id)
    )
    await replacement.signal(
        ReplacementWorkflow.carrier_event, scan(parcel.tracking_number, CarrierStatus.DELIVERED)
    )
    result = await rma.result()
    assert (result.status, result.outcome) == ("completed", "replaced")
    row = await case_row(h, s.rma_id)
    assert (row.status, row.outcome) == ("completed", "replaced")
    assert row.links == {"repair_id": repair_id, "replacement_id": replacement_id}
    timeline = await events(h, s.rma_id)
    assert timeline.index("repair_beyond_repair") < timeline.index("replacement_started")
    assert timeline[-1] == "replaced"


async def test_a_replacement_that_cannot_ship_refunds_the_unit(harness: Harness) -> None:
    h = harness
    s = rma_start(
        h,
        now=await now(h),
        resolution=Resolution.REPLACEMENT,
        price="120.00",
        policy=Policy(backorder_max=timedelta(days=2)),
    )
    # None in stock: the replacement waits on backorder until it gives up and refunds.
    s.items[0].sku = new_sku()
    await add_stock(h, s.items[0].sku, 0)
    rma = await inspected(h, s)

    result = await rma.result()
    assert (result.status, result.outcome, result.refund_amount) == (
        "completed",
        "refunded",
        Decimal("120.00"),
    )
    row = await case_row(h, s.rma_id)
    assert (row.status, row.outcome, row.refund_amount) == (
        "completed",
        "refunded",
        Decimal("120.00"),
    )
    assert await case_status(h, child_case_id(s.rma_id, "RPL")) == "refunded"
    assert (await events(h, s.rma_id))[-1] == "refunded"
