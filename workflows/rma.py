"""The RMA workflow (lifecycles.md §1): authorization, label, parcel, receipt, inspection,
resolution.

One main loop owns every transition. Update handlers validate (refusing out-of-order
commands before anything reaches history), hand the command to the loop through its slot and
wait for it to be applied, so the API answers with the state the command produced.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import rma, rules
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
    from domain.contracts.facts import RmaFacts
    from domain.contracts.payments import PaymentKind
    from domain.contracts.starts import repair_from_rma, replacement_from_rma
    from domain.ids import step_key
    from domain.repair import AssignedCenter
    from workflows import shipping
    from workflows.base import invalid_transition, refusal
    from workflows.carrier_errors import BookingAbandoned, CarrierErrors
    from workflows.carrier_scans import (
        MOVEMENT_SCANS,
        CarrierScans,
        ScannedCase,
        scan_detail,
        scan_event,
    )
    from workflows.children import (
        EndedCase,
        EndedWithoutResult,
        ended,
        start_repair,
        start_replacement,
    )
    from workflows.commands import CommandSlot
    from workflows.patches import (
        OPEN_SERIAL_PATCH,
        REPAIR_CHILD_PATCH,
        REPLACEMENT_CHILD_PATCH,
        ROUTE_REPAIR_AT_LABEL_PATCH,
        patched,
    )
    from workflows.payments import PaymentAccount, pay
    from workflows.recording import CaseRecord, if_held, new_case
    from workflows.routing import route_repair
    from workflows.shipping import Shipper, booked, customer_address, named
    from workflows.timeline import Timeline

S = rma.RmaStatus
ChildStatus = TypeVar("ChildStatus", bound=StrEnum)
SYSTEM = Actor.system()
CARRIER = Actor.carrier()
# How long a command's answer waits for work that follows it (a refund) before answering
# with the state reached so far.
SETTLE_WAIT = timedelta(seconds=10)


@workflow.defn(name=rma.RMA_WORKFLOW)
class RmaWorkflow(ScannedCase):
    @workflow.init
    def __init__(self, start: rma.RmaStart) -> None:
        self.start = start
        self.state = rma.RmaState()
        self.case = CaseRecord()
        self.timeline = Timeline(start.rma_id)
        # A booking the carrier refuses waits for the retailer's retry (`retry_shipping`).
        self.shipper = Shipper.for_case(
            start,
            start.rma_id,
            CarrierErrors(
                self.timeline, lambda: self.state.current, lambda: not self.cancellation.empty
            ),
        )
        self.documents: list[DocumentRef] = []
        self.inbound: ShipmentRef | None = None
        self.outbound: ShipmentRef | None = None
        self.scans = CarrierScans()
        self.return_delivered = False
        # The repair center the unit goes to, for an RMA resolved by repair.
        self.center: AssignedCenter | None = None
        # The child cases it started, by the read model's link names (repair_id, replacement_id).
        self.children: dict[str, str] = {}
        # One slot per command: each is refused while its own (or a conflicting) one waits.
        self.review: CommandSlot[rma.ReviewDecision] = CommandSlot()
        self.cancellation: CommandSlot[rma.CancelRequest] = CommandSlot()
        self.receipt: CommandSlot[rma.ReceiveRequest] = CommandSlot()
        self.inspection: CommandSlot[rma.InspectionRequest] = CommandSlot()
        self.settled = False
        # The retailer waived the restocking fee (before inspection): the refund is in full.
        self.fee_waiver: rma.FeeWaiver | None = None

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: rma.RmaStart) -> rma.RmaResult:
        # 1. Authorization.
        await self._authorize(start)
        await self.case.fail_if_refused()
        if self.state.status is S.PENDING_REVIEW:
            await self._await_review(start)
        # 2. Label, 3. waiting for the parcel.
        if self.state.status is S.AWAITING_RETURN:
            await self._issue_label(start)
            await self._await_parcel(start)
        # 4. Receipt and inspection.
        if self.state.status in (S.AWAITING_RETURN, S.IN_TRANSIT):
            await self._wait_for(lambda: not self.receipt.empty, None)
            request = self.receipt.take()
            detail = {"note": request.note} if request.note else {}
            await self._transition(S.RECEIVED, E.RECEIVED, request.actor, detail)
            self.receipt.done()
        if self.state.status is S.RECEIVED:
            await self._wait_for(lambda: not self.inspection.empty, None)
            # 5. Resolution.
            await self._resolve(start, self.inspection.take())
        await workflow.wait_condition(workflow.all_handlers_finished)
        shipments = booked(self.inbound, self.outbound)
        return self.state.result(start.rma_id, self.documents, shipments)

    async def _authorize(self, start: rma.RmaStart) -> None:
        now = workflow.now()
        decision = rules.authorize_rma(start, now)
        self.state = decision.state()
        status = self.state.current
        timeline = [
            self.timeline.entry(status, E.CREATED, start.creator, start.created_detail()),
            self.timeline.entry(status, E(decision.decision.value), SYSTEM, decision.detail()),
        ]
        new = new_case(
            start,
            CaseKind.RMA,
            start.rma_id,
            status=status,
            created_at=now,
            order_ref=start.order_ref,
            resolution=start.resolution.value,
            coverage=self.state.coverage,
            reason=self.state.reason,
            items=rma.case_items(start),
            data=RmaFacts(start.purchased_at, start.customer.first_name).to_data(),
            timeline=timeline,
        )
        if decision.decision is rules.Decision.REJECTED or not patched(OPEN_SERIAL_PATCH):
            await self.case.record(new)
            return
        # The decision's one-open-case check made atomic by the database's claim.
        held, serials = rules.SERIAL_HELD_ELSEWHERE, [i.serial for i in start.items]
        refused = held.state()
        instead = if_held(
            new, refused.current, refused.reason, E(held.decision.value), held.detail()
        )
        if await self.case.record_claiming(new, serials, instead):
            self.state = refused

    async def _await_review(self, start: rma.RmaStart) -> None:
        """The retailer approves or rejects; no answer within `review_timeout` expires it."""
        deadline = workflow.now() + start.policy.review_timeout
        decided = await self._wait_for(
            lambda: not self.review.empty or not self.cancellation.empty, deadline
        )
        if not decided:
            self.state.reason = "review_timeout"
            await self._transition(S.EXPIRED, E.REVIEW_TIMEOUT, SYSTEM)
            return
        if await self._apply_cancel():
            return
        review = self.review.take()
        if review.approve:
            await self._transition(S.AWAITING_RETURN, E.APPROVED, review.actor)
        else:
            reason = self.state.reason = review.rejection_reason
            await self._transition(S.REJECTED, E.REJECTED, review.actor, {"reason": reason})
        self.review.done()

    async def _issue_label(self, start: rma.RmaStart) -> None:
        """Book the inbound parcel, render its return label and packing slip."""
        origin = customer_address(start.customer, "an RMA's return label")
        to = named(start.policy.return_address, start.org_name)
        if start.resolution is rma.Resolution.REPAIR and patched(ROUTE_REPAIR_AT_LABEL_PATCH):
            # The unit goes straight to the repair center, which receives and inspects it.
            self.center = await route_repair(start.items[0].category, origin.country, start.org_id)
            if self.center is not None:
                to = named(self.center.address, self.center.name)
        # An activity, not a local one: the create (or approve) call is answered already and
        # must not wait for the carrier.
        parcel = self.shipper.parcel(
            Direction.INBOUND,
            origin,
            to,
            "inbound-shipment",
            "return_label",
            label_step="return-label",
            local=False,
        )
        try:
            self.inbound = await shipping.book(parcel)
        except BookingAbandoned:
            # Cancelled while the refused booking waited for a retry: no label to make, and
            # the wait for the parcel applies the cancellation at once.
            return
        ship_by = workflow.now() + start.policy.return_ship_by
        slip = (rma.packing_slip(start, self.inbound, ship_by), "packing-slip")
        detail = {"tracking_number": self.inbound.tracking_number, "ship_by": ship_by.isoformat()}
        labelled = self._transition(S.AWAITING_RETURN, E.LABEL_CREATED, SYSTEM, detail)
        self.documents += await shipping.labelled(
            self.timeline, parcel, self.inbound, labelled, slip
        )

    async def _await_parcel(self, start: rma.RmaStart) -> None:
        """Wait for the first scan; remind at half of `return_ship_by`, expire at its end."""
        started = workflow.now()
        half = started + start.policy.return_ship_by / 2
        end = started + start.policy.return_ship_by

        def progressed() -> bool:
            waiting = self.state.status is S.AWAITING_RETURN
            return not (waiting and self.cancellation.empty and self.receipt.empty)

        if not await self._wait_for(progressed, half):
            reminder = {"ship_by": end.isoformat()}
            await self._transition(S.AWAITING_RETURN, E.RETURN_REMINDER, SYSTEM, reminder)
            if not await self._wait_for(progressed, end):
                await shipping.void(self.inbound)
                self.state.reason = "not_shipped_in_time"
                await self._transition(S.EXPIRED, E.EXPIRED, SYSTEM, {"label": "voided"})
                return
        await self._apply_cancel()

    async def _resolve(self, start: rma.RmaStart, inspection: rma.InspectionRequest) -> None:
        result = rules.disposition(
            start.resolution, inspection.grade, inspection.serial_matches, self.state.coverage
        )
        self.state.coverage = result.coverage or self.state.coverage
        detail = rma.inspection_detail(inspection, result.disposition.value)
        await self._transition(S.RESOLVING, E.INSPECTED, inspection.actor, detail)
        self.inspection.done()
        disposition = result.disposition
        if disposition in (rules.Disposition.REFUND_FULL, rules.Disposition.REFUND_LESS_RESTOCKING):
            waived = self.fee_waiver is not None
            await self._refund(start, rules.refund_of(start, disposition, fee_waived=waived))
            self.settled = True
        elif disposition is rules.Disposition.SHIP_BACK:
            await self._ship_back(start)
            self.settled = True
            await self._returned(rma.Outcome.RETURNED_TO_CUSTOMER, E.RETURNED_TO_CUSTOMER)
        elif disposition is rules.Disposition.REPAIR and patched(REPAIR_CHILD_PATCH):
            await self._repair(start)
        elif disposition is rules.Disposition.REPLACEMENT and patched(REPLACEMENT_CHILD_PATCH):
            await self._replace(start)
        else:
            # Histories from before the child cases waited in `resolving` for an outcome.
            await self._transition(S.RESOLVING, E(f"awaiting_{disposition.value}"), SYSTEM)
            self.settled = True
            await workflow.wait_condition(lambda: self.state.outcome is not None)

    async def _refund(self, start: rma.RmaStart, refund: rules.RefundBreakdown) -> None:
        """Refund to the order's payment method (nothing to pay when the fee took it all)."""
        if refund.refund > 0:
            method = start.payment_reference or rma.order_payment_method(start.order_ref)
            account = PaymentAccount(start.org_id, start.rma_id, start.policy.currency, method)
            key = step_key(workflow.info().workflow_id, "refund")
            await pay(account, PaymentKind.REFUND, refund.refund, key)
        self.state.refunded(refund.refund)
        detail = refund.detail(start.policy.currency)
        await self._transition(S.COMPLETED, E.REFUNDED, SYSTEM, detail)

    async def _repair(self, start: rma.RmaStart) -> None:
        """Run the repair as a child case and finish with what became of the unit."""
        # Routed at label time: the center holds the unit. Otherwise it is with us.
        with_us = None if self.center else named(start.policy.return_address, start.org_name)
        repair = repair_from_rma(start, self.state.coverage, self.center, with_us)
        self.children["repair_id"] = repair.repair_id
        handle = await start_repair(repair)
        await self._through_child(start, handle, "repair", repair.repair_id, rma.after_repair)

    async def _replace(self, start: rma.RmaStart) -> None:
        """Ship a new unit as a child case (standard mode: the defective one is with us)."""
        replacement = replacement_from_rma(start, self.children.get("repair_id"))
        self.children["replacement_id"] = replacement.replacement_id
        handle = await start_replacement(replacement)
        case_id = replacement.replacement_id
        await self._through_child(start, handle, "replacement", case_id, rma.after_replacement)

    async def _through_child(
        self,
        start: rma.RmaStart,
        child: Awaitable[EndedCase[ChildStatus]],
        kind: str,
        case_id: str,
        ending_of: Callable[[ChildStatus], rma.ChildEnding],
    ) -> None:
        """Resolve through the child case: once it ends, record what the status it ended in
        means for the RMA (`ending_of`) and take the step that calls for. A child that ended
        without a result (an operator terminated it, it failed or timed out) cancels the RMA
        with that reason rather than failing it, so its case never sticks in `resolving`."""
        await self._transition(S.RESOLVING, E(f"{kind}_started"), SYSTEM, {f"{kind}_id": case_id})
        self.settled = True
        result = await ended(child)
        if isinstance(result, EndedWithoutResult):
            self.state.reason = f"{kind}_ended"
            detail = {f"{kind}_id": case_id, "cause": result.cause}
            await self._transition(S.CANCELLED, E(f"{kind}_ended"), SYSTEM, detail)
            return
        ending = ending_of(result.status)
        self.state.child_ended(ending, start.items[0].value)
        detail = {f"{kind}_id": case_id, f"{kind}_status": result.status.value}
        await self._transition(ending.status, ending.event, SYSTEM, detail)
        if ending.next_step is rma.NextStep.SHIP_BACK:
            await self._ship_back(start)
            await self._returned(rma.Outcome.RETURNED_UNREPAIRED, E.RETURNED_UNREPAIRED)
        elif ending.next_step is rma.NextStep.REPLACE:
            await self._replace(start)

    async def _ship_back(self, start: rma.RmaStart) -> None:
        self.outbound, label = await self.shipper.ship_then(
            self.timeline,
            Direction.OUTBOUND,
            named(start.policy.return_address, start.org_name),
            customer_address(start.customer, "an RMA's return label"),
            "ship-back",
            "shipping_label",
            functools.partial(self._transition, S.RESOLVING, E.SHIPPING_BACK, SYSTEM),
        )
        self.documents += label

    async def _returned(self, outcome: rma.Outcome, event: E) -> None:
        """The unit shipped back reaches the customer: the RMA completes with `outcome`."""
        await self._wait_for(lambda: self.return_delivered, None)
        self.state.outcome = outcome
        await self._transition(S.COMPLETED, event, CARRIER)

    async def _apply_cancel(self) -> bool:
        if self.cancellation.empty:
            return False
        request = self.cancellation.take()
        await shipping.void(self.inbound)
        self.state.reason = request.reason or None
        detail = {"reason": request.reason} if request.reason else {}
        await self._transition(S.CANCELLED, E.CANCELLED, request.actor, detail)
        self.cancellation.done()
        return True

    # ------------------------------------------------------------ waiting, scans

    async def _apply_scan(self, scan: CarrierEvent) -> None:
        """A scan of the inbound parcel moves an awaited return in transit; the delivery of
        the parcel shipped back completes a return to the customer."""
        status = self.state.current
        if self.inbound and scan.tracking_number == self.inbound.tracking_number:
            if status is S.AWAITING_RETURN and scan.status in MOVEMENT_SCANS:
                status = S.IN_TRANSIT
        elif (
            self.outbound
            and scan.tracking_number == self.outbound.tracking_number
            and scan.status is CarrierStatus.DELIVERED
        ):
            self.return_delivered = True
        await self._transition(status, scan_event(scan), CARRIER, scan_detail(scan))

    # ---------------------------------------------------------------- messages

    @workflow.update(name=rma.AUTHORIZE_UPDATE)
    async def authorize(self) -> rma.RmaView:
        """The create call's answer: the authorization decision, once recorded."""
        await self.case.first_answer()
        return self.view()

    @workflow.update(name=rma.REVIEW_UPDATE)
    async def decide_review(self, decision: rma.ReviewDecision) -> rma.RmaView:
        await self.review.hand_over(decision)
        return self.view()

    @decide_review.validator
    def _validate_review(self, decision: rma.ReviewDecision) -> None:
        action = "approve" if decision.approve else "reject"
        self._require(action, self.review.empty and self.cancellation.empty)

    @workflow.update(name=rma.CANCEL_UPDATE)
    async def cancel(self, request: rma.CancelRequest) -> rma.RmaView:
        await self.cancellation.hand_over(request)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: rma.CancelRequest) -> None:
        idle = self.cancellation.empty and self.review.empty and self.receipt.empty
        self._require("cancel", idle and not self.scans.pending_movement())

    @workflow.update(name=rma.RECEIVE_UPDATE)
    async def receive(self, request: rma.ReceiveRequest) -> rma.RmaView:
        await self.receipt.hand_over(request)
        return self.view()

    @receive.validator
    def _validate_receive(self, request: rma.ReceiveRequest) -> None:
        self._require("receive", self.receipt.empty and self.cancellation.empty)

    @workflow.update(name=rma.INSPECT_UPDATE)
    async def inspect(self, request: rma.InspectionRequest) -> rma.RmaView:
        await self.inspection.hand_over(request)
        # Answer with `resolving` if the resolution takes longer; it goes on regardless.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self.settled, timeout=SETTLE_WAIT)
        return self.view()

    @inspect.validator
    def _validate_inspect(self, request: rma.InspectionRequest) -> None:
        self._require("inspection", self.inspection.empty)

    @workflow.update(name=rma.WAIVE_FEE_UPDATE)
    async def waive_restocking_fee(self, waiver: rma.FeeWaiver) -> rma.RmaView:
        # Not a transition: the entry is recorded here, where the status stays as it is.
        self.fee_waiver = waiver
        detail = {"waiver_reason": waiver.reason}
        await self._transition(self.state.current, E.RESTOCKING_FEE_WAIVED, waiver.actor, detail)
        return self.view()

    @waive_restocking_fee.validator
    def _validate_waiver(self, waiver: rma.FeeWaiver) -> None:
        status = self.state.status or S.PENDING_REVIEW
        if status in (S.RESOLVING, S.COMPLETED) or not self.inspection.empty:
            raise refusal(rma.ALREADY_INSPECTED, "the RMA is inspected: its refund is settled")
        if not self.case.recorded or status not in rma.FEE_WAIVABLE or not self.cancellation.empty:
            raise invalid_transition(
                "waive_restocking_fee", status.value, rma.ALLOWED_ACTIONS[status]
            )
        if self.fee_waiver is not None:
            raise refusal(rma.FEE_ALREADY_WAIVED, "the restocking fee is waived already")

    @workflow.query(name=CURRENT_QUERY)
    def current(self) -> rma.RmaView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> rma.RmaView:
        return self.state.view(self.start.rma_id)

    def _require(self, action: str, no_conflicting_command: bool) -> None:
        status = self.state.status or S.PENDING_REVIEW
        allowed = rma.ALLOWED_ACTIONS[status]
        if not self.case.recorded or action not in allowed or not no_conflicting_command:
            raise invalid_transition(action, status.value, allowed)

    async def _transition(
        self, status: S, event: E, actor: Actor, detail: dict[str, str] | None = None
    ) -> None:
        self.state.status = status
        receiving_org_id = self.center.org_id if self.center is not None else None
        fields = self.state.fields(receiving_org_id)
        await self.timeline.project(
            status, event, actor, detail, fields=fields, links=self.children
        )
