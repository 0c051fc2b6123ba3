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

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain import replacement
    from domain.common import (
        CURRENT_QUERY,
        Actor,
        CarrierEvent,
        CarrierStatus,
        CaseKind,
        Direction,
        DocumentRef,
        ShipmentRef,
    )
    from domain.contracts.events import CaseEvent as E
    from domain.contracts.facts import ReplacementFacts
    from domain.contracts.payments import (
        PAYMENT_DECLINED,
        PAYMENT_EVENT_SIGNAL,
        PaymentEvent,
        PaymentKind,
    )
    from domain.ids import step_key
    from domain.money import money_text
    from workflows.base import EXTERNAL_RETRY, invalid_transition
    from workflows.carrier_errors import CarrierErrors
    from workflows.carrier_scans import CarrierScans, ScannedCase, scan_detail
    from workflows.commands import CommandSlot
    from workflows.deposits import Deposit
    from workflows.patches import CORE_CAPTURE_DECLINED_PATCH, patched
    from workflows.payments import (
        CustomerAuthentication,
        PaymentAccount,
        PaymentWithdrawn,
        declined,
        pay,
    )
    from workflows.recording import CaseRecord, new_case, one_unit
    from workflows.shipping import Shipper, booked, customer_address, named, void
    from workflows.stock import Reservation
    from workflows.timeline import Timeline

S = replacement.ReplacementStatus
SYSTEM = Actor.system()
CARRIER = Actor.carrier()
# Shipping a reserved unit gives up after a bounded outage, so that the reservation goes
# back to stock instead of being held by a case that cannot move.
FULFILMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
    non_retryable_error_types=[PAYMENT_DECLINED],
)


@workflow.defn(name=replacement.REPLACEMENT_WORKFLOW)
class ReplacementWorkflow(ScannedCase):
    @workflow.init
    def __init__(self, start: replacement.ReplacementStart) -> None:
        self.start = start
        self.status = S.REQUESTED
        self.reason: str | None = None
        self.case = CaseRecord()
        self.cancels: CommandSlot[replacement.ReplacementCancel] = CommandSlot()
        self.cores: CommandSlot[replacement.CoreReceived] = CommandSlot()
        self.scans = CarrierScans()
        self.timeline = Timeline(start.replacement_id)
        # A booking the carrier refuses waits for the retailer's retry (`retry_shipping`).
        self.shipper = Shipper.for_case(
            start, start.replacement_id, CarrierErrors(self.timeline, lambda: self.status)
        )
        # A deposit hold the customer must authenticate waits for them (3-D Secure), or
        # for a cancel.
        self.authentication = CustomerAuthentication(
            self.timeline, lambda: self.status, withdraw_if=lambda: self._cancelling
        )
        self.account = PaymentAccount(
            start.org_id,
            start.replacement_id,
            start.policy.currency,
            start.payment_method,
            self.authentication,
        )
        self.stock = Reservation(start.org_id, start.replacement_sku, start.replacement_id)
        self.deposit = Deposit(self.account, start.unit_price)
        self.documents: list[DocumentRef] = []
        self.outbound: ShipmentRef | None = None
        self.core: ShipmentRef | None = None
        self.stock_signalled = False
        self.core_charged = False
        self.delivered = False
        self.committed = False
        self.capturing = False
        # The first decision is made (reserved and on its way, backordered, or refused).
        self.settled = False

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: replacement.ReplacementStart) -> replacement.ReplacementResult:
        created = {"mode": start.mode.value, "sku": start.replacement_sku}
        retailer = Actor.retailer(start.org_id)
        await self.case.record(
            new_case(
                start,
                CaseKind.REPLACEMENT,
                start.replacement_id,
                status=S.REQUESTED,
                resolution=start.mode.value,
                coverage=start.coverage,
                items=one_unit(start.sku, start.serial, start.unit_price, "replacement"),
                data=self._facts().to_data(),
                links=start.parent_links(),
                timeline=[self.timeline.entry(S.REQUESTED, E.CREATED, retailer, created)],
            )
        )
        await self.case.fail_if_refused()
        await self._fulfil(start)
        if self._cancelling:
            request = self.cancels.take()
            await self._unwind()
            self.reason = request.reason or None
            detail = {"reason": request.reason} if request.reason else {}
            await self._transition(S.CANCELLED, E.CANCELLED, request.actor, detail)
        self.settled = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return replacement.ReplacementResult(
            replacement_id=start.replacement_id,
            status=self.status,
            core_charged=self.core_charged,
            documents=self.documents,
            shipments=booked(self.outbound, self.core),
        )

    @property
    def _cancelling(self) -> bool:
        """A cancel waits: the fulfilment stops at its next checkpoint and the run unwinds."""
        return not self.cancels.empty

    async def _fulfil(self, start: replacement.ReplacementStart) -> None:
        if not await self._reserve(start) or self._cancelling:
            return  # refunded after the backorder gave up, or cancelled
        try:
            if start.mode is replacement.ReplacementMode.ADVANCE:
                try:
                    await self._place_hold()
                except PaymentWithdrawn:
                    return  # cancelled while the customer was asked: the run unwinds
                if self._cancelling:
                    return
            self.outbound, label = await self.shipper.ship(
                Direction.OUTBOUND,
                named(start.ship_from or start.policy.return_address, start.org_name),
                customer_address(start.customer, "a replacement"),
                "shipment",
                "shipping_label",
                FULFILMENT_RETRY,
            )
            self.documents.append(label)
            if self._cancelling:
                return
            await self._ship()
        except ActivityError as error:
            # Nothing left the warehouse: give back the unit and the deposit, void the label.
            await self._unwind()
            if declined(error):
                self.reason = "deposit_hold_declined"
                await self._transition(
                    S.PAYMENT_FAILED, E.PAYMENT_FAILED, SYSTEM, {"reason": self.reason}
                )
            else:
                self.reason = "fulfilment_failed"
                await self._transition(S.CANCELLED, E.FULFILMENT_FAILED, SYSTEM)
            return
        self.settled = True
        # The deposit must outlive the journey too: renew it while the parcel travels.
        while not await self._wait_for(lambda: self.delivered, self.deposit.renew_at()):
            await self._renew_hold()
        if start.mode is replacement.ReplacementMode.STANDARD:
            await self._transition(S.COMPLETED, E.COMPLETED, SYSTEM)
            return
        await self._await_core(start)

    async def _reserve(self, start: replacement.ReplacementStart) -> bool:
        """Reserve a unit now, or wait on backorder until stock is reserved for us (by the
        API, in request order) or `backorder_max` passes, which refunds the customer."""
        if await self.stock.reserve():
            return True
        await self._transition(S.BACKORDERED, E.BACKORDERED, SYSTEM, {"sku": start.replacement_sku})
        self.settled = True
        deadline = workflow.now() + start.policy.backorder_max
        while True:
            woke = await self._wait_for(lambda: self.stock_signalled or self._cancelling, deadline)
            if self._cancelling:
                return False
            if not woke:
                # Stock may have been reserved for us as the deadline fell: give it back.
                await self.stock.release(force=True)
                await self._refund()
                return False
            self.stock_signalled = False
            if await self.stock.reserve():
                await self._transition(S.REQUESTED, E.STOCK_RESERVED, SYSTEM)
                return True

    async def _place_hold(self) -> None:
        renewed = await self.deposit.place(FULFILMENT_RETRY)
        await self._transition(
            self.status,
            E.DEPOSIT_HOLD_RENEWED if renewed else E.DEPOSIT_HELD,
            SYSTEM,
            {"amount": money_text(self.start.unit_price, self.start.policy.currency)},
        )

    async def _release_hold(self) -> None:
        if await self.deposit.release():
            await self._transition(self.status, E.DEPOSIT_RELEASED, SYSTEM)

    async def _ship(self) -> None:
        """The booked unit leaves: from here a cancel is refused rather than half-applied."""
        assert self.outbound is not None
        self.committed = True
        await self.stock.consume()
        await self._transition(
            S.SHIPPED, E.SHIPPED, SYSTEM, {"tracking_number": self.outbound.tracking_number}
        )

    async def _apply_scan(self, scan: CarrierEvent) -> None:
        await self._transition(self.status, E.carrier(scan.status), CARRIER, scan_detail(scan))
        outbound = self.outbound and scan.tracking_number == self.outbound.tracking_number
        if outbound and scan.status is CarrierStatus.DELIVERED and not self.delivered:
            self.delivered = True
            await self._transition(S.DELIVERED, E.DELIVERED, CARRIER)

    async def _await_core(self, start: replacement.ReplacementStart) -> None:
        """The core comes back on our label by `core_return_within`, or its deposit is taken."""
        self.core, label = await self.shipper.ship(
            Direction.INBOUND,
            customer_address(start.customer, "a replacement"),
            named(start.policy.return_address, start.org_name),
            "core-return",
            "return_label",
        )
        self.documents.append(label)
        began = workflow.now()
        half = began + start.policy.core_return_within / 2
        end = began + start.policy.core_return_within
        await self._transition(
            S.AWAITING_CORE,
            E.CORE_LABEL_CREATED,
            SYSTEM,
            {"tracking_number": self.core.tracking_number, "core_due": end.isoformat()},
        )
        reminded = False
        while True:
            wake = min(end, self.deposit.renew_at() or end, half if not reminded else end)
            if await self._wait_for(lambda: not self.cores.empty, wake):
                request = self.cores.take()
                await self._release_hold()
                detail = {"note": request.note} if request.note else {}
                await self._transition(S.COMPLETED, E.CORE_RECEIVED, request.actor, detail)
                self.cores.done()
                return
            now = workflow.now()
            if now >= end:
                await self._charge_core()
                return
            if not reminded and now >= half:
                reminded = True
                await self._transition(
                    S.AWAITING_CORE, E.CORE_REMINDER, SYSTEM, {"core_due": end.isoformat()}
                )
            if (renew_at := self.deposit.renew_at()) is not None and now >= renew_at:
                await self._renew_hold()

    async def _charge_core(self) -> None:
        """No core by the deadline: the deposit is taken."""
        # From here a late `core_received` is refused: the deposit is being taken.
        self.capturing = True
        try:
            await self.deposit.capture()
        except ActivityError as error:
            # Histories from before the patch failed the workflow here; a declined card is
            # a business answer, so the case now ends where the retailer sees it (no core,
            # no money) instead of as a failed workflow.
            if not (declined(error) and patched(CORE_CAPTURE_DECLINED_PATCH)):
                raise
            self.deposit.status = "capture_declined"
            self.reason = "core_charge_declined"
            await self._transition(
                S.PAYMENT_FAILED,
                E.CORE_CHARGE_DECLINED,
                SYSTEM,
                {"reason": self.reason, **self._money()},
            )
            return
        self.core_charged = True
        await self._transition(S.COMPLETED, E.CORE_CHARGED, SYSTEM, self._money())

    async def _renew_hold(self) -> None:
        try:
            await self._place_hold()
        except ActivityError:
            # The old hold stands until it lapses; the capture at the deadline then
            # charges the card directly.
            self.deposit.renewing = False
            await self._transition(self.status, E.DEPOSIT_HOLD_RENEWAL_FAILED, SYSTEM)

    async def _refund(self) -> None:
        key = step_key(workflow.info().workflow_id, "backorder-refund")
        await pay(self.account, PaymentKind.REFUND, self.start.unit_price, key, EXTERNAL_RETRY)
        self.reason = "backorder_expired"
        await self._transition(
            S.REFUNDED, E.REFUNDED, SYSTEM, {"reason": self.reason, **self._money()}
        )

    async def _unwind(self) -> None:
        """Undo what a case that will not ship holds: its reservation, hold and label.
        Forced: the API may have reserved for us under our key as a cancel came in."""
        await self.stock.release(force=True)
        await self._release_hold()
        if self.outbound is not None and self.status is not S.SHIPPED:
            await void(self.outbound)

    # ---------------------------------------------------------------- messages

    @workflow.update(name=replacement.REPLACEMENT_ACCEPT_UPDATE)
    async def accept(self) -> replacement.ReplacementView:
        """The create call's answer: reserved and on its way, backordered, or refused; or
        waiting for the customer to authenticate the deposit hold, which may take a day."""
        await self.case.first_answer(
            lambda: self.settled or self.authentication.awaiting is not None
        )
        return self.view()

    @workflow.update(name=replacement.REPLACEMENT_CANCEL_UPDATE)
    async def cancel(self, request: replacement.ReplacementCancel) -> replacement.ReplacementView:
        # Answered when the case ends, however it ends (`_transition`).
        await self.cancels.hand_over(request)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: replacement.ReplacementCancel) -> None:
        self._require(
            "cancel",
            self.status in replacement.CANCELLABLE and self.cancels.empty and not self.committed,
        )

    @workflow.update(name=replacement.CORE_RECEIVED_UPDATE)
    async def core_received(self, request: replacement.CoreReceived) -> replacement.ReplacementView:
        await self.cores.hand_over(request)
        return self.view()

    @core_received.validator
    def _validate_core(self, request: replacement.CoreReceived) -> None:
        self._require(
            "core_received",
            self.start.mode is replacement.ReplacementMode.ADVANCE
            and self.status in (S.DELIVERED, S.AWAITING_CORE)
            and self.cores.empty
            and not self.capturing,
        )

    @workflow.signal(name=replacement.STOCK_RESERVED_SIGNAL)
    def stock_reserved(self, notice: replacement.StockReserved) -> None:
        self.stock_signalled = True

    @workflow.signal(name=PAYMENT_EVENT_SIGNAL)
    def payment_event(self, event: PaymentEvent) -> None:
        self.authentication.receive(event)

    @workflow.query(name=CURRENT_QUERY)
    def current(self) -> replacement.ReplacementView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> replacement.ReplacementView:
        return replacement.ReplacementView(
            replacement_id=self.start.replacement_id,
            status=self.status,
            reason=self.reason,
            core_charged=self.core_charged,
        )

    def _require(self, action: str, allowed: bool) -> None:
        if not (self.case.recorded and allowed):
            raise invalid_transition(
                action, self.status.value, replacement.ALLOWED_ACTIONS[self.status]
            )

    def _money(self) -> dict[str, str]:
        # With the currency's own minor units; a timeline detail only (a local activity's
        # input, not compared on replay), so running cases take it without a patch.
        currency = self.start.policy.currency
        return {"amount": money_text(self.start.unit_price, currency), "currency": currency}

    def _facts(self) -> ReplacementFacts:
        return ReplacementFacts(
            mode=self.start.mode,
            replacement_sku=self.start.replacement_sku,
            core_charged=self.core_charged,
            hold=self.deposit.facts(),
            # The hold is written in the case's minor units (KWD 1.125, JPY 12000); a
            # local activity's input only, so running cases take it without a patch.
            currency=self.start.policy.currency,
        )

    async def _transition(
        self, status: S, event: E, actor: Actor, detail: dict[str, str] | None = None
    ) -> None:
        self.status = status
        if status in replacement.TERMINAL_REPLACEMENT_STATUSES and not self.cancels.empty:
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
