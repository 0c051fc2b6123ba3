"""The replacement workflow (lifecycles.md §3): reserve stock (or wait on backorder), hold a
deposit in advance mode, ship, and in advance mode get the defective core back or charge it.

Compensation is explicit: a reservation is released on any failure or cancel before the
unit ships, a hold is released when it is no longer needed, labels not used are voided.
Every side effect carries a key made of the workflow id and the step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import CarrierActivities, InventoryActivities, PaymentActivities
    from domain.common import (
        Address,
        CarrierEvent,
        CarrierStatus,
        Direction,
        DocumentRef,
        ShipmentRef,
    )
    from domain.contracts.carrier import VoidShipment
    from domain.contracts.inventory import ReserveRequest, SettleRequest
    from domain.contracts.payments import PaymentKind, PaymentRequest
    from domain.contracts.store import CaseItemRecord, NewCase
    from domain.ids import step_key
    from domain.replacement import (
        ALLOWED_ACTIONS,
        CANCELLABLE,
        CORE_RECEIVED_UPDATE,
        REPLACEMENT_ACCEPT_UPDATE,
        REPLACEMENT_CANCEL_UPDATE,
        REPLACEMENT_WORKFLOW,
        STOCK_RESERVED_SIGNAL,
        TERMINAL_REPLACEMENT_STATUSES,
        CoreReceived,
        HoldState,
        ReplacementCancel,
        ReplacementMode,
        ReplacementResult,
        ReplacementStart,
        ReplacementStatus,
        ReplacementView,
        StockReserved,
        reservation_key,
    )
    from domain.rma import Actor
    from workflows.base import (
        EXTERNAL_RETRY,
        EXTERNAL_TIMEOUT,
        QUICK_RETRY,
        QUICK_TIMEOUT,
        invalid_transition,
    )
    from workflows.recording import record_new_case, unrecordable
    from workflows.shipping import Parcel, book_with_label, named
    from workflows.timeline import Timeline

S = ReplacementStatus
SYSTEM = Actor("system")
CARRIER = Actor("carrier")
MOVEMENT_SCANS = frozenset(
    {
        CarrierStatus.PICKED_UP,
        CarrierStatus.IN_TRANSIT,
        CarrierStatus.OUT_FOR_DELIVERY,
        CarrierStatus.DELIVERED,
    }
)
# Shipping a reserved unit gives up after a bounded outage, so that the reservation goes
# back to stock instead of being held by a case that cannot move.
FULFILMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
    non_retryable_error_types=["PaymentDeclined"],
)


class _Cancelled(Exception):
    """A cancel arrived at a checkpoint: unwind what was done so far."""


@workflow.defn(name=REPLACEMENT_WORKFLOW)
class ReplacementWorkflow:
    def __init__(self) -> None:
        self.start: ReplacementStart | None = None
        self.status = S.REQUESTED
        self.reason: str | None = None
        self.recorded = False
        # Why the case could not be stored, when its data is refused for good.
        self.unrecordable: str | None = None
        self.timeline = Timeline("")
        self.documents: list[DocumentRef] = []
        self.outbound: ShipmentRef | None = None
        self.core: ShipmentRef | None = None
        self.scans: list[CarrierEvent] = []
        self.seen_events: set[str] = set()
        self.reserved = False
        self.stock_signalled = False
        self.hold: HoldState | None = None
        self.holds_placed = 0
        self.hold_status: str | None = None
        self.core_charged = False
        self.delivered = False
        self.cancel_request: ReplacementCancel | None = None
        self.committed = False
        self.capturing = False
        self.renewing = True
        self.core_request: CoreReceived | None = None
        self.settled = False

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: ReplacementStart) -> ReplacementResult:
        self.start = start
        self.timeline = Timeline(start.replacement_id)
        await self._record(start)
        if self.unrecordable is not None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise unrecordable(self.unrecordable)
        try:
            await self._fulfil(start)
        except _Cancelled:
            await self._unwind()
            request = self.cancel_request
            assert request is not None
            self.reason = request.reason or None
            detail = {"reason": request.reason} if request.reason else {}
            await self._transition(S.CANCELLED, "cancelled", request.actor, detail)
            self.cancel_request = None
        self.settled = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ReplacementResult(
            replacement_id=start.replacement_id,
            status=self.status,
            core_charged=self.core_charged,
            documents=self.documents,
            shipments=[s for s in (self.outbound, self.core) if s is not None],
        )

    async def _fulfil(self, start: ReplacementStart) -> None:
        if not await self._reserve(start):
            return  # refunded after the backorder gave up
        self._checkpoint()
        try:
            if start.mode is ReplacementMode.ADVANCE:
                await self._place_hold(start)
                self._checkpoint()
            await self._ship(start)
        except ActivityError as error:
            # Nothing left the warehouse: give back the unit and the deposit, void the label.
            await self._unwind()
            if _declined(error):
                self.reason = "deposit_hold_declined"
                await self._transition(
                    S.PAYMENT_FAILED, "payment_failed", SYSTEM, {"reason": self.reason}
                )
            else:
                self.reason = "fulfilment_failed"
                await self._transition(S.CANCELLED, "fulfilment_failed", SYSTEM)
            return
        self.settled = True
        # The deposit must outlive the journey too: renew it while the parcel travels.
        while not await self._wait_for(lambda: self.delivered, self._renew_at()):
            await self._renew_hold(start)
        if start.mode is ReplacementMode.STANDARD:
            await self._transition(S.COMPLETED, "completed", SYSTEM)
            return
        await self._await_core(start)

    async def _reserve(self, start: ReplacementStart) -> bool:
        """Reserve a unit now, or wait on backorder until stock is reserved for us (by the
        API, in request order) or `backorder_max` passes, which refunds the customer."""
        if await self._try_reserve(start):
            return True
        await self._transition(S.BACKORDERED, "backordered", SYSTEM, {"sku": start.replacement_sku})
        self.settled = True
        deadline = workflow.now() + start.policy.backorder_max
        while True:
            woke = await self._wait_for(
                lambda: self.stock_signalled or self.cancel_request is not None, deadline
            )
            self._checkpoint()
            if not woke:
                # Stock may have been reserved for us as the deadline fell: give it back.
                await self._release_reservation(force=True)
                await self._refund(start)
                return False
            self.stock_signalled = False
            if await self._try_reserve(start):
                await self._transition(S.REQUESTED, "stock_reserved", SYSTEM)
                return True

    async def _try_reserve(self, start: ReplacementStart) -> bool:
        result = await workflow.execute_local_activity_method(
            InventoryActivities.reserve_stock,
            ReserveRequest(
                key=reservation_key(workflow.info().workflow_id),
                org_id=start.org_id,
                sku=start.replacement_sku,
                case_id=start.replacement_id,
            ),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.reserved = result.reserved
        return result.reserved

    async def _release_reservation(self, force: bool = False) -> None:
        if not (self.reserved or force):
            return
        await workflow.execute_local_activity_method(
            InventoryActivities.release_stock,
            SettleRequest(reservation_key(workflow.info().workflow_id)),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.reserved = False

    async def _place_hold(self, start: ReplacementStart) -> None:
        self.holds_placed += 1
        key = step_key(workflow.info().workflow_id, f"hold-{self.holds_placed}")
        await self._pay(start, PaymentKind.HOLD, key, FULFILMENT_RETRY)
        previous = self.hold
        self.hold = HoldState(key=key, placed_at=workflow.now(), amount=start.unit_price)
        self.hold_status = "held"
        if previous is not None:
            await self._pay(start, PaymentKind.RELEASE, f"{previous.key}/release", EXTERNAL_RETRY)
            await self._transition(
                self.status, "deposit_hold_renewed", SYSTEM, {"amount": f"{start.unit_price:.2f}"}
            )
        else:
            await self._transition(
                self.status, "deposit_held", SYSTEM, {"amount": f"{start.unit_price:.2f}"}
            )

    async def _release_hold(self, event: str) -> None:
        if self.hold is None or self.hold_status != "held":
            return
        await self._pay(
            self._start(), PaymentKind.RELEASE, f"{self.hold.key}/release", EXTERNAL_RETRY
        )
        self.hold_status = "released"
        await self._transition(self.status, event, SYSTEM)

    async def _ship(self, start: ReplacementStart) -> None:
        origin = named(start.ship_from or start.policy.return_address, start.org_name)
        destination = _customer_address(start)
        self.outbound = await self._book(
            Direction.OUTBOUND, origin, destination, "shipment", "shipping_label", FULFILMENT_RETRY
        )
        self._checkpoint()
        # From here the parcel goes: a cancel is refused rather than half-applied.
        self.committed = True
        await workflow.execute_local_activity_method(
            InventoryActivities.consume_stock,
            SettleRequest(reservation_key(workflow.info().workflow_id)),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.reserved = False
        await self._transition(
            S.SHIPPED, "shipped", SYSTEM, {"tracking_number": self.outbound.tracking_number}
        )

    async def _await_core(self, start: ReplacementStart) -> None:
        """The core comes back on our label by `core_return_within`, or its deposit is taken."""
        self.core = await self._book(
            Direction.INBOUND,
            _customer_address(start),
            named(start.policy.return_address, start.org_name),
            "core-return",
            "return_label",
            EXTERNAL_RETRY,
        )
        began = workflow.now()
        half = began + start.policy.core_return_within / 2
        end = began + start.policy.core_return_within
        await self._transition(
            S.AWAITING_CORE,
            "core_label_created",
            SYSTEM,
            {"tracking_number": self.core.tracking_number, "core_due": end.isoformat()},
        )
        reminded = False
        while True:
            assert self.hold is not None
            wake = min(end, self._renew_at() or end, half if not reminded else end)
            if await self._wait_for(lambda: self.core_request is not None, wake):
                request = self.core_request
                assert request is not None
                await self._release_hold("deposit_released")
                detail = {"note": request.note} if request.note else {}
                await self._transition(S.COMPLETED, "core_received", request.actor, detail)
                self.core_request = None
                return
            now = workflow.now()
            if now >= end:
                # From here a late `core_received` is refused: the deposit is being taken.
                self.capturing = True
                try:
                    await self._pay(
                        start, PaymentKind.CAPTURE, f"{self.hold.key}/capture", EXTERNAL_RETRY
                    )
                except ActivityError as error:
                    # Histories from before the patch failed the workflow here; a declined
                    # card is a business answer, so the case now ends where the retailer
                    # sees it (no core, no money) instead of as a failed workflow.
                    if not (_declined(error) and workflow.patched("core-capture-declined")):
                        raise
                    self.hold_status = "capture_declined"
                    self.reason = "core_charge_declined"
                    await self._transition(
                        S.PAYMENT_FAILED,
                        "core_charge_declined",
                        SYSTEM,
                        {
                            "reason": self.reason,
                            "amount": f"{start.unit_price:.2f}",
                            "currency": start.policy.currency,
                        },
                    )
                    return
                self.hold_status = "captured"
                self.core_charged = True
                await self._transition(
                    S.COMPLETED,
                    "core_charged",
                    SYSTEM,
                    {"amount": f"{start.unit_price:.2f}", "currency": start.policy.currency},
                )
                return
            if not reminded and now >= half:
                reminded = True
                await self._transition(
                    S.AWAITING_CORE, "core_reminder", SYSTEM, {"core_due": end.isoformat()}
                )
            if (renew_at := self._renew_at()) is not None and now >= renew_at:
                await self._renew_hold(start)

    def _renew_at(self) -> datetime | None:
        """When the standing hold must be renewed, or None: no hold, or renewal gave up."""
        if self.hold is None or self.hold_status != "held" or not self.renewing:
            return None
        return self.hold.renew_at

    async def _renew_hold(self, start: ReplacementStart) -> None:
        try:
            await self._place_hold(start)
        except ActivityError:
            # The old hold stands until it lapses; the capture at the deadline then
            # charges the card directly.
            self.renewing = False
            await self._transition(self.status, "deposit_hold_renewal_failed", SYSTEM)

    async def _refund(self, start: ReplacementStart) -> None:
        await self._pay(
            start,
            PaymentKind.REFUND,
            step_key(workflow.info().workflow_id, "backorder-refund"),
            EXTERNAL_RETRY,
        )
        self.reason = "backorder_expired"
        await self._transition(
            S.REFUNDED,
            "refunded",
            SYSTEM,
            {
                "reason": self.reason,
                "amount": f"{start.unit_price:.2f}",
                "currency": start.policy.currency,
            },
        )

    async def _unwind(self) -> None:
        """Undo what a case that will not ship holds: its reservation, hold and label.
        Forced: the API may have reserved for us under our key as a cancel came in."""
        await self._release_reservation(force=True)
        await self._release_hold("deposit_released")
        if self.outbound is not None and self.status is not S.SHIPPED:
            await workflow.execute_activity_method(
                CarrierActivities.void_shipment,
                VoidShipment(self.outbound.tracking_number),
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=EXTERNAL_RETRY,
            )

    def _checkpoint(self) -> None:
        if self.cancel_request is not None:
            raise _Cancelled

    # ---------------------------------------------------------------- side effects

    async def _pay(
        self, start: ReplacementStart, kind: PaymentKind, key: str, retry: RetryPolicy
    ) -> None:
        await workflow.execute_activity_method(
            PaymentActivities.execute_payment,
            PaymentRequest(
                idempotency_key=key,
                org_id=start.org_id,
                case_id=start.replacement_id,
                kind=kind,
                amount=start.unit_price,
                currency=start.policy.currency,
                payment_method=start.payment_method,
            ),
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            retry_policy=retry,
        )

    async def _book(
        self,
        direction: Direction,
        origin: Address,
        destination: Address,
        step: str,
        kind: str,
        retry: RetryPolicy,
    ) -> ShipmentRef:
        start = self._start()
        shipment, label = await book_with_label(
            Parcel(
                org_id=start.org_id,
                case_id=start.replacement_id,
                tracking_url=f"{start.public_base_url}/track/{start.tracking_token}",
                direction=direction,
                origin=origin,
                destination=destination,
                step=step,
                label_kind=kind,
            ),
            retry,
        )
        self.documents.append(label)
        return shipment

    async def _record(self, start: ReplacementStart) -> None:
        retailer = Actor("retailer", start.org_id)
        links = {
            name: value
            for name, value in (("rma_id", start.rma_id), ("repair_id", start.repair_id))
            if value
        }
        self.unrecordable = await record_new_case(
            NewCase(
                case_id=start.replacement_id,
                org_id=start.org_id,
                case_type="replacement",
                workflow_id=workflow.info().workflow_id,
                status=S.REQUESTED.value,
                tracking_token=start.tracking_token,
                customer=start.customer,
                created_at=workflow.now(),
                currency=start.policy.currency,
                resolution=start.mode.value,
                items=[
                    CaseItemRecord(
                        sku=start.sku,
                        serial=start.serial,
                        quantity=1,
                        unit_price=start.unit_price,
                        reason="replacement",
                    )
                ],
                data={"customer_first_name": start.customer.first_name, **self._data()},
                links=links,
                timeline=[
                    self.timeline.entry(
                        S.REQUESTED,
                        "created",
                        retailer,
                        {"mode": start.mode.value, "sku": start.replacement_sku},
                    )
                ],
            ),
        )
        if self.unrecordable is not None:
            return
        self.recorded = True

    # ------------------------------------------------------------ waiting, scans

    async def _wait_for(self, ready: Callable[[], bool], deadline: datetime | None) -> bool:
        while True:
            await self._apply_scans()
            if ready():
                return True
            timeout = None if deadline is None else deadline - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                return False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: ready() or bool(self.scans), timeout=timeout)

    async def _apply_scans(self) -> None:
        while self.scans:
            scan = self.scans.pop(0)
            detail = {
                "tracking_number": scan.tracking_number,
                "location": scan.location,
                "occurred_at": scan.occurred_at.isoformat(),
            }
            event = f"carrier_{scan.status.value}"
            await self._transition(self.status, event, CARRIER, detail)
            outbound = self.outbound and scan.tracking_number == self.outbound.tracking_number
            if outbound and scan.status is CarrierStatus.DELIVERED and not self.delivered:
                self.delivered = True
                await self._transition(S.DELIVERED, "delivered", CARRIER)

    # ---------------------------------------------------------------- messages

    @workflow.update(name=REPLACEMENT_ACCEPT_UPDATE)
    async def accept(self) -> ReplacementView:
        """The create call's answer: reserved and on its way, backordered, or refused."""
        await workflow.wait_condition(lambda: self.settled or self.unrecordable is not None)
        if self.unrecordable is not None:
            raise unrecordable(self.unrecordable)
        return self.view()

    @workflow.update(name=REPLACEMENT_CANCEL_UPDATE)
    async def cancel(self, request: ReplacementCancel) -> ReplacementView:
        self.cancel_request = request
        await workflow.wait_condition(lambda: self.status in TERMINAL_REPLACEMENT_STATUSES)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: ReplacementCancel) -> None:
        self._require(
            "cancel",
            self.status in CANCELLABLE and self.cancel_request is None and not self.committed,
        )

    @workflow.update(name=CORE_RECEIVED_UPDATE)
    async def core_received(self, request: CoreReceived) -> ReplacementView:
        self.core_request = request
        await workflow.wait_condition(lambda: self.core_request is None)
        return self.view()

    @core_received.validator
    def _validate_core(self, request: CoreReceived) -> None:
        start = self._start()
        self._require(
            "core_received",
            start.mode is ReplacementMode.ADVANCE
            and self.status in (S.DELIVERED, S.AWAITING_CORE)
            and self.core_request is None
            and not self.capturing,
        )

    @workflow.signal(name=STOCK_RESERVED_SIGNAL)
    def stock_reserved(self, notice: StockReserved) -> None:
        self.stock_signalled = True

    @workflow.signal
    def carrier_event(self, event: CarrierEvent) -> None:
        if event.event_id in self.seen_events:
            return
        self.seen_events.add(event.event_id)
        self.scans.append(event)

    @workflow.query
    def current(self) -> ReplacementView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> ReplacementView:
        start = self._start()
        return ReplacementView(
            replacement_id=start.replacement_id,
            status=self.status,
            reason=self.reason,
            core_charged=self.core_charged,
        )

    def _start(self) -> ReplacementStart:
        assert self.start is not None
        return self.start

    def _require(self, action: str, allowed: bool) -> None:
        if not (self.recorded and allowed):
            raise invalid_transition(action, self.status.value, ALLOWED_ACTIONS[self.status])

    def _data(self) -> dict[str, Any]:
        start = self._start()
        return {
            "mode": start.mode.value,
            "replacement_sku": start.replacement_sku,
            "core_charged": self.core_charged,
            "hold": None
            if self.hold is None
            else {
                "amount": f"{self.hold.amount:.2f}",
                "status": self.hold_status,
                "placed_at": self.hold.placed_at.isoformat(),
                "renewals": self.holds_placed - 1,
            },
        }

    async def _transition(
        self,
        status: ReplacementStatus,
        event: str,
        actor: Actor,
        detail: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        await self.timeline.project(
            status, event, actor, detail, fields={"reason": self.reason}, data=self._data()
        )


def _declined(error: ActivityError) -> bool:
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == "PaymentDeclined"


def _customer_address(start: ReplacementStart) -> Address:
    if start.customer.address is None:
        raise ValueError("a replacement needs the customer's address")
    return named(start.customer.address, start.customer.name)
