"""The replacement workflow on the time-skipping server: stock reservations, backorders, the
advance mode's deposit hold and core return, and the compensation on cancel and failure."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError

from activities.gateways import GatewayAnswer, GatewayCall
from activities.inventory import InventoryActivities
from activities.payments import BuiltinGateway, PaymentActivities
from db import inventory, models
from domain.common import Policy, ShipmentRef
from domain.contracts.carrier import BookShipment
from domain.contracts.inventory import ReserveRequest
from domain.contracts.payments import PaymentKind, PaymentRequest, PaymentResult
from domain.ids import replacement_workflow_id, step_key
from domain.replacement import (
    CoreReceived,
    ReplacementCancel,
    ReplacementMode,
    ReplacementStart,
    StockReserved,
    reservation_key,
)
from tests.workflows.kit import (
    REPLACEMENT_PRICE,
    RETAILER,
    Gate,
    GatedStore,
    Harness,
    ReplacementHandle,
    add_stock,
    case_row,
    deliver,
    document_kinds,
    events,
    expect_invalid,
    new_sku,
    open_replacement,
    outcome,
    payments,
    replacement_operation,
    replacement_start,
    shipments,
    side_worker,
    terminate_when_idle,
    timeline,
    typed,
    until_status,
)
from workflows.replacement import ReplacementWorkflow

ADVANCE = ReplacementMode.ADVANCE


async def set_quantity(h: Harness, sku: str, quantity: int) -> None:
    async with h.sessions.begin() as session:
        row = await session.get(models.InventoryItem, (h.org_id, sku))
        assert row is not None
        row.quantity = quantity


async def stock(h: Harness, sku: str) -> tuple[int, int]:
    """(quantity, reserved) of a SKU."""
    async with h.sessions() as session:
        row = await session.get(models.InventoryItem, (h.org_id, sku))
        assert row is not None
        return row.quantity, row.reserved


async def reservation_status(h: Harness, s: ReplacementStart) -> str | None:
    """The status of the case's one reservation (reserved, consumed, released), if any."""
    key = reservation_key(replacement_workflow_id(s.replacement_id))
    async with h.sessions() as session:
        row = await session.get(models.InventoryReservation, key)
        return None if row is None else row.status


async def ledger(h: Harness, case_id: str) -> dict[str, models.Payment]:
    """The case's payments by idempotency key."""
    return {row.idempotency_key: row for row in await payments(h, case_id)}


def key(s: ReplacementStart, step: str) -> str:
    return step_key(replacement_workflow_id(s.replacement_id), step)


async def wake_backorder(h: Harness, handle: ReplacementHandle, s: ReplacementStart) -> bool:
    """What `api/routes/inventory.py::_wake_backorders` does for one case: reserve a unit
    under the workflow's own key, commit, then tell the workflow."""
    wf_key = reservation_key(handle.id)
    async with h.sessions() as session:
        reserved = await inventory.reserve(
            session, wf_key, s.org_id, s.replacement_sku, s.replacement_id
        )
        await session.commit()
    if reserved:
        await handle.signal(ReplacementWorkflow.stock_reserved, StockReserved(wf_key))
    return reserved


class BrokenCarrier:
    """A carrier that is down for good: every booking fails with a retryable error."""

    def __init__(self) -> None:
        self.attempts = 0

    @activity.defn(name="book_shipment")
    async def book_shipment(self, request: BookShipment) -> ShipmentRef:
        self.attempts += 1
        raise RuntimeError("carrier API unavailable")


class GatedPayments(PaymentActivities):
    """The real ledger and gateway, except that a capture waits at the gate."""

    def __init__(self, h: Harness, gate: Gate) -> None:
        super().__init__(h.sessions, BuiltinGateway())
        self.gate = gate

    @activity.defn(name="execute_payment")
    async def execute_payment(self, request: PaymentRequest) -> PaymentResult:
        if request.kind == PaymentKind.CAPTURE:
            await self.gate.pass_through()
        return await super().execute_payment(request)


# ------------------------------------------------------------------------- tests


async def test_standard_ships_consumes_stock_and_completes_on_delivery(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(harness, sku)
    handle, view = await open_replacement(harness, s)
    assert view.status == "shipped"
    assert await stock(harness, sku) == (0, 0)  # the unit left: consumed, not just reserved
    assert await reservation_status(harness, s) == "consumed"
    assert "shipping_label" in await document_kinds(harness, s.replacement_id)
    await deliver(harness, handle, s)
    result = await handle.result()
    assert result.status == "completed"
    assert not result.core_charged
    timeline_events = await events(harness, s.replacement_id)
    assert timeline_events.index("shipped") < timeline_events.index("delivered")
    assert timeline_events.index("delivered") < timeline_events.index("completed")
    assert (await case_row(harness, s.replacement_id)).status == "completed"
    assert await ledger(harness, s.replacement_id) == {}  # standard mode takes no deposit


async def test_advance_core_returned_releases_the_deposit(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(harness, sku, mode=ADVANCE)
    handle, view = await open_replacement(harness, s)
    assert view.status == "shipped"
    payments = await ledger(harness, s.replacement_id)
    assert [(p.kind, p.status) for p in payments.values()] == [("hold", "succeeded")]
    assert key(s, "hold-1") in payments

    await deliver(harness, handle, s)
    await until_status(harness, s.replacement_id, "awaiting_core")
    (core,) = await shipments(harness, s.replacement_id, "inbound")
    assert core.status == "label_created"
    assert "return_label" in await document_kinds(harness, s.replacement_id)

    view = await handle.execute_update(
        typed(ReplacementWorkflow.core_received), CoreReceived(RETAILER, note="core ok")
    )
    assert view.status == "completed"
    result = await handle.result()
    assert (result.status, result.core_charged) == ("completed", False)
    payments = await ledger(harness, s.replacement_id)
    assert sorted((p.kind, p.status) for p in payments.values()) == [
        ("hold", "succeeded"),
        ("release", "succeeded"),
    ]
    assert f"{key(s, 'hold-1')}/release" in payments
    row = await case_row(harness, s.replacement_id)
    assert row.data["core_charged"] is False
    assert row.data["hold"]["status"] == "released"


async def test_advance_core_late_is_charged_after_a_reminder(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(
        harness, sku, mode=ADVANCE, policy=Policy(core_return_within=timedelta(days=4))
    )
    handle, _ = await open_replacement(harness, s)
    await deliver(harness, handle, s)
    await until_status(harness, s.replacement_id, "awaiting_core")
    await harness.env.sleep(timedelta(days=5))

    result = await handle.result()
    assert (result.status, result.core_charged) == ("completed", True)
    row = await case_row(harness, s.replacement_id)
    assert row.status == "completed"
    assert row.data["core_charged"] is True
    assert row.data["hold"]["status"] == "captured"
    payments = await ledger(harness, s.replacement_id)
    capture = payments[f"{key(s, 'hold-1')}/capture"]
    assert (capture.kind, capture.status, capture.amount) == (
        "capture",
        "succeeded",
        REPLACEMENT_PRICE,
    )
    assert not any(p.kind == "release" for p in payments.values())

    entries = {e.event: e for e in await timeline(harness, s.replacement_id)}
    began = entries["core_label_created"].at
    assert abs(entries["core_reminder"].at - began - timedelta(days=2)) < timedelta(minutes=1)
    assert entries["core_charged"].at - began >= timedelta(days=4)
    assert entries["core_reminder"].seq < entries["core_charged"].seq


async def test_advance_declined_hold_ships_nothing_and_gives_the_unit_back(
    harness: Harness,
) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 3)
    s = replacement_start(harness, sku, mode=ADVANCE, payment_method="pm_declined")
    handle, view = await open_replacement(harness, s)
    assert (view.status, view.reason) == ("payment_failed", "deposit_hold_declined")
    assert (await handle.result()).status == "payment_failed"
    assert await shipments(harness, s.replacement_id, "outbound") == []
    assert await stock(harness, sku) == (3, 0)
    assert await reservation_status(harness, s) == "released"
    payments = await ledger(harness, s.replacement_id)
    assert [(p.kind, p.status) for p in payments.values()] == [("hold", "declined")]
    row = await case_row(harness, s.replacement_id)
    assert (row.status, row.reason) == ("payment_failed", "deposit_hold_declined")


async def test_hold_is_renewed_until_the_core_deadline_then_captured(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(
        harness, sku, mode=ADVANCE, policy=Policy(core_return_within=timedelta(days=30))
    )
    handle, view = await open_replacement(harness, s)
    assert view.status == "shipped"
    # A day in transit: the core clock starts at delivery, a day after hold-1 was placed.
    await harness.env.sleep(timedelta(days=1))
    await deliver(harness, handle, s)
    await until_status(harness, s.replacement_id, "awaiting_core")
    await harness.env.sleep(timedelta(days=31))
    result = await handle.result()
    assert (result.status, result.core_charged) == ("completed", True)

    # hold-1 is placed at t0, just before shipping; delivery is at t0+1d, so the core is due
    # at t0+31d. A hold is renewed HOLD_LIFETIME - HOLD_RENEW_BEFORE = 6 days after it was
    # placed: at t0+6d, +12d, +18d, +24d and +30d, all before the deadline (the next would
    # be t0+36d). So 1 + 5 renewals = 6 holds, each older one released, and the capture is
    # taken on hold-6.
    holds = 6
    payments = await ledger(harness, s.replacement_id)
    hold_keys = [key(s, f"hold-{n}") for n in range(1, holds + 1)]
    assert sorted(k for k, p in payments.items() if p.kind == "hold") == sorted(hold_keys)
    assert sorted(k for k, p in payments.items() if p.kind == "release") == sorted(
        f"{k}/release" for k in hold_keys[:-1]
    )
    assert [k for k, p in payments.items() if p.kind == "capture"] == [f"{hold_keys[-1]}/capture"]
    assert all(p.status == "succeeded" for p in payments.values())
    row = await case_row(harness, s.replacement_id)
    assert row.data["hold"]["renewals"] == holds - 1
    assert row.data["hold"]["status"] == "captured"
    timeline_events = await events(harness, s.replacement_id)
    assert timeline_events.count("deposit_hold_renewed") == holds - 1
    assert timeline_events.count("core_reminder") == 1


async def test_backorder_is_woken_by_stock_and_ships(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 0)
    s = replacement_start(harness, sku)
    handle, view = await open_replacement(harness, s)
    assert view.status == "backordered"
    assert await reservation_status(harness, s) is None
    assert await shipments(harness, s.replacement_id, "outbound") == []

    await set_quantity(harness, sku, 1)
    assert await wake_backorder(harness, handle, s)
    await until_status(harness, s.replacement_id, "shipped")
    assert await stock(harness, sku) == (0, 0)
    assert await reservation_status(harness, s) == "consumed"
    assert len(await shipments(harness, s.replacement_id, "outbound")) == 1
    timeline_events = await events(harness, s.replacement_id)
    assert timeline_events.index("backordered") < timeline_events.index("stock_reserved")
    assert timeline_events.index("stock_reserved") < timeline_events.index("shipped")
    await deliver(harness, handle, s)
    assert (await handle.result()).status == "completed"


async def test_backorder_expires_into_a_refund(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 0)
    s = replacement_start(harness, sku, policy=Policy(backorder_max=timedelta(days=2)))
    handle, view = await open_replacement(harness, s)
    assert view.status == "backordered"
    await harness.env.sleep(timedelta(days=3))
    result = await handle.result()
    assert result.status == "refunded"
    row = await case_row(harness, s.replacement_id)
    assert (row.status, row.reason) == ("refunded", "backorder_expired")
    payments = await ledger(harness, s.replacement_id)
    refund = payments[key(s, "backorder-refund")]
    assert (refund.kind, refund.status, refund.amount) == ("refund", "succeeded", REPLACEMENT_PRICE)
    assert len(payments) == 1
    assert await stock(harness, sku) == (0, 0)
    assert await shipments(harness, s.replacement_id, "outbound") == []


async def test_cancel_while_backordered(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 0)
    s = replacement_start(harness, sku)
    handle, view = await open_replacement(harness, s)
    assert view.status == "backordered"
    view = await handle.execute_update(
        typed(ReplacementWorkflow.cancel), ReplacementCancel(RETAILER, reason="customer_request")
    )
    assert (view.status, view.reason) == ("cancelled", "customer_request")
    assert (await handle.result()).status == "cancelled"
    assert await reservation_status(harness, s) is None
    assert await stock(harness, sku) == (0, 0)
    assert await ledger(harness, s.replacement_id) == {}
    row = await case_row(harness, s.replacement_id)
    assert (row.status, row.reason) == ("cancelled", "customer_request")


async def test_cancel_after_shipping_is_refused_and_changes_nothing(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(harness, sku, mode=ADVANCE)
    handle, view = await open_replacement(harness, s)
    assert view.status == "shipped"
    before = await events(harness, s.replacement_id)
    await expect_invalid(
        handle.execute_update(typed(ReplacementWorkflow.cancel), ReplacementCancel(RETAILER)),
        "shipped",
    )
    # core_received is refused too until the unit is delivered.
    await expect_invalid(
        handle.execute_update(typed(ReplacementWorkflow.core_received), CoreReceived(RETAILER)),
        "shipped",
    )
    assert await events(harness, s.replacement_id) == before
    assert (await case_row(harness, s.replacement_id)).status == "shipped"
    assert await stock(harness, sku) == (0, 0)
    assert [p.kind for p in (await ledger(harness, s.replacement_id)).values()] == ["hold"]
    await terminate_when_idle(harness, handle.id)


async def test_booking_failure_releases_the_reservation_and_the_hold(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 2)
    carrier = BrokenCarrier()
    async with side_worker(harness, {"book_shipment": carrier.book_shipment}) as queue:
        s = replacement_start(harness, sku, mode=ADVANCE)
        operation = replacement_operation(harness, s, queue)
        accept = await harness.env.client.start_update_with_start_workflow(
            typed(ReplacementWorkflow.accept),
            start_workflow_operation=operation,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        handle = await operation.workflow_handle()
        result = await outcome(harness, handle)  # the server skips the retries' backoff
        view = await accept.result()
    assert carrier.attempts == 5  # FULFILMENT_RETRY gives up after five attempts
    assert result.status == "cancelled"
    assert (view.status, view.reason) == ("cancelled", "fulfilment_failed")
    row = await case_row(harness, s.replacement_id)
    assert (row.status, row.reason) == ("cancelled", "fulfilment_failed")
    assert "fulfilment_failed" in await events(harness, s.replacement_id)
    assert await reservation_status(harness, s) == "released"
    assert await stock(harness, sku) == (2, 0)
    assert await shipments(harness, s.replacement_id, "outbound") == []
    payments = await ledger(harness, s.replacement_id)
    assert sorted(payments) == sorted([key(s, "hold-1"), f"{key(s, 'hold-1')}/release"])
    assert all(p.status == "succeeded" for p in payments.values())


async def test_a_retried_reserve_reserves_once(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    activities = InventoryActivities(harness.sessions)
    request = ReserveRequest(
        key=f"replacement:RPL-TEST-{uuid.uuid4().hex[:8]}/reservation",
        org_id=harness.org_id,
        sku=sku,
        case_id="RPL-TEST-RETRY",
    )
    assert (await activities.reserve_stock(request)).reserved
    assert (await activities.reserve_stock(request)).reserved
    assert await stock(harness, sku) == (1, 1)
    # Another case finds no unit left.
    other = ReserveRequest(f"{request.key}-other", harness.org_id, sku, "RPL-TEST-OTHER")
    assert not (await activities.reserve_stock(other)).reserved
    assert await stock(harness, sku) == (1, 1)


# ------------------------------------------------------------------------ races


async def test_cancel_racing_a_backorder_wake_up_gives_the_unit_back(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 0)
    gate = Gate()
    store = GatedStore(harness, gate, lambda projection: projection.status == "cancelled")
    async with side_worker(harness, {"project": store.project}) as queue:
        s = replacement_start(harness, sku)
        handle, view = await open_replacement(harness, s, queue)
        assert view.status == "backordered"
        # The API puts a unit in stock and reserves it for this case (committed)...
        await set_quantity(harness, sku, 1)
        wf_key = reservation_key(handle.id)
        async with harness.sessions() as session:
            assert await inventory.reserve(session, wf_key, s.org_id, sku, s.replacement_id)
            await session.commit()
        # ...the customer's cancel lands before the API's signal...
        cancel = asyncio.create_task(
            handle.execute_update(
                typed(ReplacementWorkflow.cancel),
                ReplacementCancel(RETAILER, reason="customer_request"),
            )
        )
        await asyncio.wait_for(gate.reached.wait(), 10)
        # ...and the signal lands while the case is still winding up, so it is accepted and
        # the API (rightly) does not release the unit itself.
        await handle.signal(ReplacementWorkflow.stock_reserved, StockReserved(wf_key))
        gate.opened.set()
        assert (await cancel).status == "cancelled"
        assert (await handle.result()).status == "cancelled"
    assert await reservation_status(harness, s) == "released"
    assert await stock(harness, sku) == (1, 0)


async def test_core_received_while_the_capture_runs_is_refused(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    gate = Gate()
    payments = GatedPayments(harness, gate)
    async with side_worker(harness, {"execute_payment": payments.execute_payment}) as queue:
        s = replacement_start(
            harness, sku, mode=ADVANCE, policy=Policy(core_return_within=timedelta(days=1))
        )
        handle, view = await open_replacement(harness, s, queue)
        assert view.status == "shipped"
        await deliver(harness, handle, s)
        await until_status(harness, s.replacement_id, "awaiting_core")
        clock = asyncio.create_task(harness.env.sleep(timedelta(days=2)))
        try:
            # The deadline passes and the capture starts; the core is booked in meanwhile.
            await asyncio.wait_for(gate.reached.wait(), 10)
            # Too late: the deposit is being taken, so the core no longer settles the case.
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    typed(ReplacementWorkflow.core_received),
                    CoreReceived(RETAILER, note="arrived on the due date"),
                )
            assert isinstance(refused.value.cause, ApplicationError)
            assert refused.value.cause.type == "invalid_transition"
            gate.opened.set()
            result = await asyncio.wait_for(handle.result(), 10)
            assert result.status == "completed"
            assert result.core_charged
        finally:
            gate.opened.set()
            with contextlib.suppress(Exception):
                await terminate_when_idle(harness, handle.id, within=5)
            await clock
    assert gate.calls == 1


class CaptureDecliningGateway(BuiltinGateway):
    """The card holds and releases, but the capture of the deposit is declined (the card
    was cancelled meanwhile, say)."""

    async def execute(self, call: GatewayCall) -> GatewayAnswer:
        if call.kind is PaymentKind.CAPTURE:
            return GatewayAnswer.declined("gw_capture_declined", "card declined")
        return await super().execute(call)


async def test_a_declined_core_capture_ends_the_case_as_payment_failed(harness: Harness) -> None:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    payments = PaymentActivities(harness.sessions, CaptureDecliningGateway())
    async with side_worker(harness, {"execute_payment": payments.execute_payment}) as queue:
        s = replacement_start(
            harness, sku, mode=ADVANCE, policy=Policy(core_return_within=timedelta(days=2))
        )
        handle, view = await open_replacement(harness, s, queue)
        assert view.status == "shipped"
        await deliver(harness, handle, s)
        await until_status(harness, s.replacement_id, "awaiting_core")
        await harness.env.sleep(timedelta(days=3))

        # The workflow ends (it does not fail) in a state the retailer can act on.
        result = await asyncio.wait_for(handle.result(), 10)
        assert (result.status, result.core_charged) == ("payment_failed", False)
        view = await handle.query(ReplacementWorkflow.current)
        assert (view.status, view.reason) == ("payment_failed", "core_charge_declined")

    row = await case_row(harness, s.replacement_id)
    assert (row.status, row.reason) == ("payment_failed", "core_charge_declined")
    assert row.data["core_charged"] is False
    assert row.data["hold"]["status"] == "capture_declined"
    ledger_rows = await ledger(harness, s.replacement_id)
    capture = ledger_rows[f"{key(s, 'hold-1')}/capture"]
    assert (capture.kind, capture.status) == ("capture", "declined")
    entries = await timeline(harness, s.replacement_id)
    last = entries[-1]
    assert (last.event, last.status) == ("core_charge_declined", "payment_failed")
    assert "core_charged" not in [e.event for e in entries]


async def test_a_yen_deposit_and_core_charge_are_written_in_whole_yen(harness: Harness) -> None:
    """JPY has no minor unit: the timeline says `12000`, never `12000.00`."""
    sku = new_sku()
    await add_stock(harness, sku, 1)
    policy = Policy(currency="JPY", core_return_within=timedelta(days=4))
    s = replacement_start(harness, sku, mode=ADVANCE, policy=policy)
    s = dataclasses.replace(s, unit_price=Decimal("12000"))
    handle, _ = await open_replacement(harness, s)
    await deliver(harness, handle, s)
    await until_status(harness, s.replacement_id, "awaiting_core")
    await harness.env.sleep(timedelta(days=5))
    assert (await handle.result()).core_charged is True

    entries = {e.event: e.detail for e in await timeline(harness, s.replacement_id)}
    assert entries["deposit_held"] == {"amount": "12000"}
    assert entries["core_charged"] == {"amount": "12000", "currency": "JPY"}
    # The stored hold too (once "12000.00"): the API reads it from there.
    data = (await case_row(harness, s.replacement_id)).data
    assert (data["hold"]["amount"], data["hold"]["status"]) == ("12000", "captured")
    assert data["currency"] == "JPY"


async def test_a_dinar_deposit_hold_is_stored_with_three_places(harness: Harness) -> None:
    """KWD has three decimals: a hold of 1.125 is stored as `1.125`, once `1.12`, from the
    first write to the release."""
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(harness, sku, mode=ADVANCE, policy=Policy(currency="KWD"))
    s = dataclasses.replace(s, unit_price=Decimal("1.125"))
    handle, view = await open_replacement(harness, s)
    assert view.status == "shipped"
    data = (await case_row(harness, s.replacement_id)).data
    assert (data["hold"]["amount"], data["hold"]["status"]) == ("1.125", "held")
    assert data["currency"] == "KWD"

    await deliver(harness, handle, s)
    await until_status(harness, s.replacement_id, "awaiting_core")
    view = await handle.execute_update(
        typed(ReplacementWorkflow.core_received), CoreReceived(RETAILER, note="core ok")
    )
    assert view.status == "completed"
    data = (await case_row(harness, s.replacement_id)).data
    assert (data["hold"]["amount"], data["hold"]["status"]) == ("1.125", "released")


async def test_a_dinar_refund_is_written_with_three_places(harness: Harness) -> None:
    """KWD has three decimals: a backorder refund of 1.5 says `1.500`, not `1.50`."""
    sku = new_sku()
    await add_stock(harness, sku, 0)
    policy = Policy(currency="KWD", backorder_max=timedelta(days=2))
    s = dataclasses.replace(
        replacement_start(harness, sku, policy=policy), unit_price=Decimal("1.5")
    )
    handle, _ = await open_replacement(harness, s)
    await harness.env.sleep(timedelta(days=3))
    assert (await handle.result()).status == "refunded"

    (refunded,) = [e for e in await timeline(harness, s.replacement_id) if e.event == "refunded"]
    assert refunded.detail == {
        "reason": "backorder_expired",
        "amount": "1.500",
        "currency": "KWD",
    }
