"""The replacement workflow (lifecycles.md §3): reserve stock (or wait on backorder), hold a
deposit in advance mode, ship, and in advance mode get the defective core back or charge it.

Compensation is explicit: a reservation is released on any failure or cancel before the
unit ships, a hold is released when it is no longer needed, labels not used are voided.
Every side effect carries a key made of the workflow id and the step.

A cancel is handed over in its `CommandSlot` and taken at the checkpoints between steps
(`_cancelling`): the fulfilment stops there and the run unwinds what was done so far. The
unit leaving the warehouse commits the case; from then on a cancel is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import InventoryActivities, PaymentActivities
    from domain.common import (
        CARRIER_EVENT_SIGNAL,
        Actor,
        Address,
        CarrierEvent,
        CarrierStatus,
        CaseKind,
        Direction,
        DocumentRef,
        ShipmentRef,
    )
    from domain.contracts.events import CaseEvent
    from domain.contracts.facts import HoldFacts, ReplacementFacts
    from domain.contracts.inventory import ReserveRequest, SettleRequest
    from domain.contracts.payments import PaymentKind, PaymentRequest
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
    from workflows.base import (
        EXTERNAL_RETRY,
        EXTERNAL_TIMEOUT,
        QUICK_RETRY,
        QUICK_TIMEOUT,
        invalid_transition,
    )
    from workflows.carrier_scans import CarrierScans, scan_detail
    from workflows.commands import CommandSlot
    from workflows.recording import CaseRecord, new_case, one_unit
    from workflows.shipping import Parcel, book_with_label, customer_address, named, void
    from workflows.timeline import Timeline

S = ReplacementStatus
# Shipping a reserved unit gives up after a bounded outage, so that the reservation goes
# back to stock instead of being held by a case that cannot move.
FULFILMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
    non_retryable_error_types=["PaymentDeclined"],
)


@workflow.defn(name=REPLACEMENT_WORKFLOW)
class ReplacementWorkflow:
    def __init__(self) -> None:
        self.start: ReplacementStart | None = None
        self.status = S.REQUESTED
        self.reason: str | None = None
        self.case = CaseRecord()
        self.cancels: CommandSlot[ReplacementCancel] = CommandSlot()
        self.cores: CommandSlot[CoreReceived] = CommandSlot()
        self.scans = CarrierScans()
        self.timeline = Timeline("")
        self.documents: list[DocumentRef] = []
        self.outbound: ShipmentRef | None = None
        self.core: ShipmentRef | None = None
        self.reserved = False
        self.stock_signalled = False
        self.hold: HoldState | None = None
        self.holds_placed = 0
        self.hold_status: str | None = None
        self.core_charged = False
        self.delivered = False
        self.committed = False
        self.capturing = False
        self.renewing = True
        # The first decision is made (reserved and on its way, backordered, or refused).
        self.settled = False

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: ReplacementStart) -> ReplacementResult:
        self.start = start
        self.timeline = Timeline(start.replacement_id)
        await self.case.record(
            new_case(
                case_type=CaseKind.REPLACEMENT,
                case_id=start.replacement_id,
                org_id=start.org_id,
                status=S.REQUESTED,
                tracking_token=start.tracking_token,
                customer=start.customer,
                currency=start.policy.currency,
                resolution=start.mode.value,
                items=one_unit(start.sku, start.serial, start.unit_price, "replacement"),
                data=self._facts().to_data(),
                links={
                    name: value
                    for name, value in (("rma_id", start.rma_id), ("repair_id", start.repair_id))
                    if value
                },
                timeline=[
                    self.timeline.entry(
                        S.REQUESTED,
                        CaseEvent.CREATED,
                        Actor.retailer(start.org_id),
                        {"mode": start.mode.value, "sku": start.replacement_sku},
                    )
                ],
            )
        )
        await self.case.fail_if_refused()
        await self._fulfil(start)
        if self._cancelling:
            request = self.cancels.take()
            await self._unwind()
            self.reason = request.reason or None
            detail = {"reason": request.reason} if request.reason else {}
            await self._transition(S.CANCELLED, CaseEvent.CANCELLED, request.actor, detail)
        self.settled = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ReplacementResult(
            replacement_id=start.replacement_id,
            status=self.status,
            core_charged=self.core_charged,
            documents=self.documents,
            shipments=[s for s in (self.outbound, self.core) if s is not None],
        )

    @property
    def _cancelling(self) -> bool:
        """A cancel waits: the fulfilment stops at its next checkpoint and the run unwinds."""
        return not self.cancels.empty

    async def _fulfil(self, start: ReplacementStart) -> None:
        if not await self._reserve(start) or self._cancelling:
            return  # refunded after the backorder gave up, or cancelled
        try:
            if start.mode is ReplacementMode.ADVANCE:
                await self._place_hold(start)
                if self._cancelling:
                    return
            origin = named(start.ship_from or start.policy.return_address, start.org_name)
            self.outbound = await self._book(
                Direction.OUTBOUND,
                origin,
                customer_address(start.customer, "a replacement"),
                "shipment",
                "shipping_label",
                FULFILMENT_RETRY,
            )
            if self._cancelling:
                return
            await self._ship()
        except ActivityError as error:
            # Nothing left the warehouse: give back the unit and the deposit, void the label.
            await self._unwind()
            if _declined(error):
                self.reason = "deposit_hold_declined"
                await self._transition(
                    S.PAYMENT_FAILED,
                    CaseEvent.PAYMENT_FAILED,
                    Actor.system(),
                    {"reason": self.reason},
                )
            else:
                self.reason = "fulfilment_failed"
                await self._transition(S.CANCELLED, CaseEvent.FULFILMENT_FAILED, Actor.system())
            return
        self.settled = True
        # The deposit must outlive the journey too: renew it while the parcel travels.
        while not await self.scans.wait_for(lambda: self.delivered, self._renew_at(), self._scan):
            await self._renew_hold(start)
        if start.mode is ReplacementMode.STANDARD:
            await self._transition(S.COMPLETED, CaseEvent.COMPLETED, Actor.system())
            return
        await self._await_core(start)

    async def _reserve(self, start: ReplacementStart) -> bool:
        """Reserve a unit now, or wait on backorder until stock is reserved for us (by the
        API, in request order) or `backorder_max` passes, which refunds the customer."""
        if await self._try_reserve(start):
            return True
        await self._transition(
            S.BACKORDERED, CaseEvent.BACKORDERED, Actor.system(), {"sku": start.replacement_sku}
        )
        self.settled = True
        deadline = workflow.now() + start.policy.backorder_max
        while True:
            woke = await self.scans.wait_for(
                lambda: self.stock_signalled or self._cancelling, deadline, self._scan
            )
            if self._cancelling:
                return False
            if not woke:
                # Stock may have been reserved for us as the deadline fell: give it back.
                await self._release_reservation(force=True)
                await self._refund(start)
                return False
            self.stock_signalled = False
            if await self._try_reserve(start):
                await self._transition(S.REQUESTED, CaseEvent.STOCK_RESERVED, Actor.system())
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
        self.reserved = bool(result.reserved)
        return self.reserved

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
        await self._pay(PaymentKind.HOLD, key, FULFILMENT_RETRY)
        previous = self.hold
        self.hold = HoldState(key=key, placed_at=workflow.now(), amount=start.unit_price)
        self.hold_status = "held"
        if previous is not None:
            await self._pay(PaymentKind.RELEASE, f"{previous.key}/release", EXTERNAL_RETRY)
        await self._transition(
            self.status,
            CaseEvent.DEPOSIT_HOLD_RENEWED if previous else CaseEvent.DEPOSIT_HELD,
            Actor.system(),
            {"amount": f"{start.unit_price:.2f}"},
        )

    async def _release_hold(self) -> None:
        if self.hold is None or self.hold_status != "held":
            return
        await self._pay(PaymentKind.RELEASE, f"{self.hold.key}/release", EXTERNAL_RETRY)
        self.hold_status = "released"
        await self._transition(self.status, CaseEvent.DEPOSIT_RELEASED, Actor.system())

    async def _ship(self) -> None:
        """The booked unit leaves: from here a cancel is refused rather than half-applied."""
        assert self.outbound is not None
        self.committed = True
        await workflow.execute_local_activity_method(
            InventoryActivities.consume_stock,
            SettleRequest(reservation_key(workflow.info().workflow_id)),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.reserved = False
        await self._transition(
            S.SHIPPED,
            CaseEvent.SHIPPED,
            Actor.system(),
            {"tracking_number": self.outbound.tracking_number},
        )

    async def _scan(self, scan: CarrierEvent) -> None:
        await self._transition(
            self.status, CaseEvent.carrier(scan.status), Actor.carrier(), scan_detail(scan)
        )
        outbound = self.outbound and scan.tracking_number == self.outbound.tracking_number
        if outbound and scan.status is CarrierStatus.DELIVERED and not self.delivered:
            self.delivered = True
            await self._transition(S.DELIVERED, CaseEvent.DELIVERED, Actor.carrier())

    async def _await_core(self, start: ReplacementStart) -> None:
        """The core comes back on our label by `core_return_within`, or its deposit is taken."""
        self.core = await self._book(
            Direction.INBOUND,
            customer_address(start.customer, "a replacement"),
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
            CaseEvent.CORE_LABEL_CREATED,
            Actor.system(),
            {"tracking_number": self.core.tracking_number, "core_due": end.isoformat()},
        )
        reminded = False
        while True:
            wake = min(end, self._renew_at() or end, half if not reminded else end)
            if await self.scans.wait_for(lambda: not self.cores.empty, wake, self._scan):
                request = self.cores.take()
                await self._release_hold()
                detail = {"note": request.note} if request.note else {}
                await self._transition(S.COMPLETED, CaseEvent.CORE_RECEIVED, request.actor, detail)
                self.cores.done()
                return
            now = workflow.now()
            if now >= end:
                await self._charge_core(start)
                return
            if not reminded and now >= half:
                reminded = True
                await self._transition(
                    S.AWAITING_CORE,
                    CaseEvent.CORE_REMINDER,
                    Actor.system(),
                    {"core_due": end.isoformat()},
                )
            if (renew_at := self._renew_at()) is not None and now >= renew_at:
                await self._renew_hold(start)

    async def _charge_core(self, start: ReplacementStart) -> None:
        """No core by the deadline: the deposit is taken."""
        assert self.hold is not None
        # From here a late `core_received` is refused: the deposit is being taken.
        self.capturing = True
        money = {"amount": f"{start.unit_price:.2f}", "currency": start.policy.currency}
        try:
            await self._pay(PaymentKind.CAPTURE, f"{self.hold.key}/capture", EXTERNAL_RETRY)
        except ActivityError as error:
            # Histories from before the patch failed the workflow here; a declined card is
            # a business answer, so the case now ends where the retailer sees it (no core,
            # no money) instead of as a failed workflow.
            if not (_declined(error) and workflow.patched("core-capture-declined")):
                raise
            self.hold_status = "capture_declined"
            self.reason = "core_charge_declined"
            await self._transition(
                S.PAYMENT_FAILED,
                CaseEvent.CORE_CHARGE_DECLINED,
                Actor.system(),
                {"reason": self.reason, **money},
            )
            return
        self.hold_status = "captured"
        self.core_charged = True
        await self._transition(S.COMPLETED, CaseEvent.CORE_CHARGED, Actor.system(), money)

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
            await self._transition(
                self.status, CaseEvent.DEPOSIT_HOLD_RENEWAL_FAILED, Actor.system()
            )

    async def _refund(self, start: ReplacementStart) -> None:
        await self._pay(
            PaymentKind.REFUND,
            step_key(workflow.info().workflow_id, "backorder-refund"),
            EXTERNAL_RETRY,
        )
        self.reason = "backorder_expired"
        await self._transition(
            S.REFUNDED,
            CaseEvent.REFUNDED,
            Actor.system(),
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
        await self._release_hold()
        if self.outbound is not None and self.status is not S.SHIPPED:
            await void(self.outbound)

    # ---------------------------------------------------------------- side effects

    async def _pay(self, kind: PaymentKind, key: str, retry: RetryPolicy) -> None:
        start = self._start()
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

    # ---------------------------------------------------------------- messages

    @workflow.update(name=REPLACEMENT_ACCEPT_UPDATE)
    async def accept(self) -> ReplacementView:
        """The create call's answer: reserved and on its way, backordered, or refused."""
        await self.case.first_answer(lambda: self.settled)
        return self.view()

    @workflow.update(name=REPLACEMENT_CANCEL_UPDATE)
    async def cancel(self, request: ReplacementCancel) -> ReplacementView:
        # Answered when the case ends, however it ends (`_transition`).
        await self.cancels.hand_over(request)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: ReplacementCancel) -> None:
        self._require(
            "cancel", self.status in CANCELLABLE and self.cancels.empty and not self.committed
        )

    @workflow.update(name=CORE_RECEIVED_UPDATE)
    async def core_received(self, request: CoreReceived) -> ReplacementView:
        await self.cores.hand_over(request)
        return self.view()

    @core_received.validator
    def _validate_core(self, request: CoreReceived) -> None:
        start = self._start()
        self._require(
            "core_received",
            start.mode is ReplacementMode.ADVANCE
            and self.status in (S.DELIVERED, S.AWAITING_CORE)
            and self.cores.empty
            and not self.capturing,
        )

    @workflow.signal(name=STOCK_RESERVED_SIGNAL)
    def stock_reserved(self, notice: StockReserved) -> None:
        self.stock_signalled = True

    @workflow.signal(name=CARRIER_EVENT_SIGNAL)
    def carrier_event(self, event: CarrierEvent) -> None:
        self.scans.receive(event)

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
        if not (self.case.recorded and allowed):
            raise invalid_transition(action, self.status.value, ALLOWED_ACTIONS[self.status])

    def _facts(self) -> ReplacementFacts:
        start = self._start()
        hold = self.hold
        return ReplacementFacts(
            mode=start.mode,
            replacement_sku=start.replacement_sku,
            core_charged=self.core_charged,
            hold=None
            if hold is None or self.hold_status is None
            else HoldFacts(hold.amount, self.hold_status, hold.placed_at, self.holds_placed - 1),
        )

    async def _transition(
        self,
        status: ReplacementStatus,
        event: CaseEvent,
        actor: Actor,
        detail: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        if status in TERMINAL_REPLACEMENT_STATUSES and not self.cancels.empty:
            # A cancel is answered as the case ends, whichever way it ends (a refund or a
            # failed hold may overtake it), and before the projection, as it always was.
            self.cancels.done()
        await self.timeline.project(
            status,
            event,
            actor,
            detail,
            fields={"reason": self.reason},
            data=self._facts().to_data(),
        )


def _declined(error: ActivityError) -> bool:
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == "PaymentDeclined"
