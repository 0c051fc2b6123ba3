"""The RMA workflow (lifecycles.md §1): authorization, label, parcel, receipt, inspection,
resolution.

One main loop owns every transition. Update handlers validate (refusing out-of-order
commands before anything reaches history), hand the command to the loop and wait for it to
be applied, so the API answers with the state the command produced.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.stubs import (
        CarrierActivities,
        DocumentActivities,
        PaymentActivities,
        RoutingActivities,
        StoreActivities,
    )
    from domain import rules
    from domain.common import (
        INVALID_DATA,
        WORKFLOW_TASK_TIMEOUT,
        Address,
        CarrierEvent,
        CarrierStatus,
        Direction,
        DocumentRef,
        ShipmentRef,
    )
    from domain.contracts.carrier import BookShipment, VoidShipment
    from domain.contracts.documents import LabelRequest, PackingSlipRequest
    from domain.contracts.payments import PaymentKind, PaymentRequest
    from domain.contracts.routing import RouteRequest
    from domain.contracts.store import CaseItemRecord, NewCase, SerialClaim, SerialRelease
    from domain.documents import LabelData, PackingSlipData, SlipItem
    from domain.ids import child_case_id, repair_workflow_id, replacement_workflow_id, step_key
    from domain.repair import (
        REPAIR_WORKFLOW,
        AssignedCenter,
        RepairCoverage,
        RepairResult,
        RepairStart,
        RepairStatus,
        RepairUnit,
    )
    from domain.replacement import (
        REPLACEMENT_WORKFLOW,
        ReplacementMode,
        ReplacementResult,
        ReplacementStart,
        ReplacementStatus,
    )
    from domain.rma import (
        ALLOWED_ACTIONS,
        Actor,
        CancelRequest,
        Coverage,
        InspectionRequest,
        Outcome,
        ReceiveRequest,
        RejectReason,
        Resolution,
        ReviewDecision,
        RmaResult,
        RmaStart,
        RmaStatus,
        RmaView,
        order_payment_method,
    )
    from workflows.base import (
        EXTERNAL_RETRY,
        EXTERNAL_TIMEOUT,
        QUICK_RETRY,
        QUICK_TIMEOUT,
        RENDER_TIMEOUT,
        invalid_transition,
    )
    from workflows.recording import record_new_case, unrecordable
    from workflows.shipping import named
    from workflows.timeline import Timeline

ChildResult = TypeVar("ChildResult")
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
# How long a command's answer waits for work that follows it (a refund) before answering
# with the state reached so far.
SETTLE_WAIT = timedelta(seconds=10)
# Before this patch the one-open-case-per-serial check was only the API's look at open
# cases, which concurrent requests for one unit all passed.
OPEN_SERIAL_PATCH = "rma-open-serial-claim"


@workflow.defn(name="Rma")
class RmaWorkflow:
    def __init__(self) -> None:
        self.start: RmaStart | None = None
        self.status: RmaStatus | None = None
        self.coverage: Coverage | None = None
        self.reason: str | None = None
        self.outcome: Outcome | None = None
        self.refund_amount: Decimal | None = None
        self.recorded = False
        # Why the case could not be stored, when its data is refused for good.
        self.unrecordable: str | None = None
        self.timeline = Timeline("")
        self.documents: list[DocumentRef] = []
        self.inbound: ShipmentRef | None = None
        self.outbound: ShipmentRef | None = None
        self.scans: list[CarrierEvent] = []
        self.seen_events: set[str] = set()
        self.return_delivered = False
        # The repair center the unit goes to, for an RMA resolved by repair.
        self.center: AssignedCenter | None = None
        self.repair_id: str | None = None
        self.replacement_id: str | None = None
        # Commands handed from update handlers to the main loop; cleared once applied.
        self.review: ReviewDecision | None = None
        self.cancel_request: CancelRequest | None = None
        self.receive_request: ReceiveRequest | None = None
        self.inspection: InspectionRequest | None = None
        self.settled = False

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: RmaStart) -> RmaResult:
        self.start = start
        self.timeline = Timeline(start.rma_id)
        await self._authorize(start)
        if self.unrecordable is not None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise unrecordable(self.unrecordable)
        if self.status is RmaStatus.PENDING_REVIEW:
            await self._await_review(start)
        if self.status is RmaStatus.AWAITING_RETURN:
            await self._issue_label(start)
            await self._await_parcel(start)
        if self.status in (RmaStatus.AWAITING_RETURN, RmaStatus.IN_TRANSIT):
            await self._wait_for(lambda: self.receive_request is not None, None)
            request = self.receive_request
            assert request is not None
            await self._transition(
                RmaStatus.RECEIVED,
                "received",
                request.actor,
                {"note": request.note} if request.note else {},
            )
            self.receive_request = None
        if self.status is RmaStatus.RECEIVED:
            await self._wait_for(lambda: self.inspection is not None, None)
            assert self.inspection is not None
            await self._resolve(start, self.inspection)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return RmaResult(
            rma_id=start.rma_id,
            status=self._status(),
            outcome=self.outcome,
            refund_amount=self.refund_amount,
            documents=self.documents,
            shipments=[s for s in (self.inbound, self.outbound) if s is not None],
        )

    async def _authorize(self, start: RmaStart) -> None:
        now = workflow.now()
        decision = rules.authorize(
            resolution=start.resolution,
            purchased_at=start.purchased_at,
            now=now,
            items=start.items,
            policy=start.policy,
            serials_with_open_cases=start.serials_with_open_cases,
            serials_with_active_plans=start.serials_with_active_plans,
        )
        claimed = False
        if decision.decision is not rules.Decision.REJECTED and workflow.patched(OPEN_SERIAL_PATCH):
            decision, claimed = await self._claim_serials(start, decision)
        self.coverage = decision.coverage
        self.reason = decision.reason.value if decision.reason else None
        self.status = {
            rules.Decision.AUTHORIZED: RmaStatus.AWAITING_RETURN,
            rules.Decision.PENDING_REVIEW: RmaStatus.PENDING_REVIEW,
            rules.Decision.REJECTED: RmaStatus.REJECTED,
        }[decision.decision]
        retailer = Actor("retailer", start.org_id)
        detail = {"coverage": self.coverage.value} if self.coverage else {}
        if self.reason:
            detail["reason"] = self.reason
        timeline = [
            self.timeline.entry(
                RmaStatus.PENDING_REVIEW
                if decision.decision is rules.Decision.PENDING_REVIEW
                else self.status,
                "created",
                retailer,
                {"resolution": start.resolution.value},
            )
        ]
        timeline.append(self.timeline.entry(self.status, decision.decision.value, SYSTEM, detail))
        self.unrecordable = await record_new_case(
            NewCase(
                case_id=start.rma_id,
                org_id=start.org_id,
                case_type="rma",
                workflow_id=workflow.info().workflow_id,
                status=self.status.value,
                tracking_token=start.tracking_token,
                customer=start.customer,
                created_at=now,
                currency=start.policy.currency,
                order_ref=start.order_ref,
                resolution=start.resolution.value,
                coverage=self.coverage.value if self.coverage else None,
                reason=self.reason,
                items=[
                    CaseItemRecord(
                        sku=i.sku,
                        serial=i.serial,
                        quantity=i.quantity,
                        unit_price=i.unit_price,
                        reason=i.reason.value,
                        notes=i.notes,
                    )
                    for i in start.items
                ],
                data={
                    "purchased_at": start.purchased_at.isoformat(),
                    "customer_first_name": start.customer.first_name,
                },
                timeline=timeline,
            ),
        )
        if self.unrecordable is not None:
            if claimed:
                await workflow.execute_local_activity_method(
                    StoreActivities.release_serials,
                    SerialRelease(start.rma_id),
                    start_to_close_timeout=QUICK_TIMEOUT,
                    retry_policy=QUICK_RETRY,
                )
            return
        self.recorded = True

    async def _claim_serials(
        self, start: RmaStart, decision: rules.Authorization
    ) -> tuple[rules.Authorization, bool]:
        """Make the decision's one-open-case check atomic: the API's look at open cases
        races other requests for the same unit, the database's claim does not. Answers the
        decision (rejected `duplicate_open_case` if another case holds a serial) and
        whether this case now holds its serials."""
        try:
            claim = await workflow.execute_local_activity_method(
                StoreActivities.claim_serials,
                SerialClaim(start.org_id, start.rma_id, [i.serial for i in start.items]),
                start_to_close_timeout=QUICK_TIMEOUT,
                retry_policy=QUICK_RETRY,
            )
        except (ActivityError, ApplicationError) as error:
            # A local activity's non-retryable failure may arrive bare or wrapped.
            cause = error.cause if isinstance(error, ActivityError) else error
            if not (isinstance(cause, ApplicationError) and cause.type == INVALID_DATA):
                raise
            # Serials the database refuses: recording the case refuses them too, and ends it.
            return decision, False
        if claim.held_by is not None:
            return rules.Authorization(
                rules.Decision.REJECTED, RejectReason.DUPLICATE_OPEN_CASE
            ), False
        return decision, True

    async def _await_review(self, start: RmaStart) -> None:
        deadline = workflow.now() + start.policy.review_timeout
        decided = await self._wait_for(
            lambda: self.review is not None or self.cancel_request is not None, deadline
        )
        if not decided:
            self.reason = "review_timeout"
            await self._transition(RmaStatus.EXPIRED, "review_timeout", SYSTEM)
            return
        if await self._apply_cancel():
            return
        review = self.review
        assert review is not None
        if review.approve:
            await self._transition(RmaStatus.AWAITING_RETURN, "approved", review.actor)
        else:
            self.reason = review.reason or RejectReason.REJECTED_BY_RETAILER.value
            await self._transition(
                RmaStatus.REJECTED, "rejected", review.actor, {"reason": self.reason}
            )
        self.review = None

    async def _issue_label(self, start: RmaStart) -> None:
        wf_id = workflow.info().workflow_id
        origin = _customer_address(start)
        destination = named(start.policy.return_address, start.org_name)
        if start.resolution is Resolution.REPAIR and workflow.patched("route-repair-at-label"):
            # The unit goes straight to the repair center, which receives and inspects it.
            routed = await workflow.execute_local_activity_method(
                RoutingActivities.route_repair,
                RouteRequest(
                    category=start.items[0].category,
                    country=origin.country,
                    org_id=start.org_id,
                ),
                start_to_close_timeout=QUICK_TIMEOUT,
                retry_policy=QUICK_RETRY,
            )
            self.center = routed.center
            if self.center is not None:
                destination = named(self.center.address, self.center.name)
        self.inbound = await workflow.execute_activity_method(
            CarrierActivities.book_shipment,
            BookShipment(
                idempotency_key=step_key(wf_id, "inbound-shipment"),
                org_id=start.org_id,
                case_id=start.rma_id,
                workflow_id=wf_id,
                direction=Direction.INBOUND,
                origin=origin,
                destination=destination,
            ),
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            retry_policy=EXTERNAL_RETRY,
        )
        ship_by = workflow.now() + start.policy.return_ship_by
        label = await self._render_label(
            start, self.inbound, origin, destination, "return_label", "return-label"
        )
        slip = await workflow.execute_local_activity_method(
            DocumentActivities.render_packing_slip,
            PackingSlipRequest(
                idempotency_key=step_key(wf_id, "packing-slip"),
                org_id=start.org_id,
                case_id=start.rma_id,
                slip=PackingSlipData(
                    case_number=start.rma_id,
                    order_ref=start.order_ref,
                    retailer_name=start.org_name,
                    customer_first_name=start.customer.first_name,
                    items=[
                        SlipItem(
                            sku=i.sku,
                            description=i.product_name or i.sku,
                            serial=i.serial,
                            quantity=i.quantity,
                            reason=i.reason.value,
                        )
                        for i in start.items
                    ],
                    tracking_number=self.inbound.tracking_number,
                    ship_by=_long_date(ship_by),
                    instructions=[
                        "Put this slip inside the parcel with the items listed.",
                        "Stick the return label on the outside, covering any old labels.",
                        f"Hand the parcel to {self.inbound.carrier} by {_long_date(ship_by)}.",
                    ],
                ),
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.documents += [label, slip]
        await self._transition(
            RmaStatus.AWAITING_RETURN,
            "label_created",
            SYSTEM,
            {"tracking_number": self.inbound.tracking_number, "ship_by": ship_by.isoformat()},
        )

    async def _await_parcel(self, start: RmaStart) -> None:
        """Wait for the first scan; remind at half of `return_ship_by`, expire at its end."""
        started = workflow.now()
        half = started + start.policy.return_ship_by / 2
        end = started + start.policy.return_ship_by

        def progressed() -> bool:
            return (
                self.status is not RmaStatus.AWAITING_RETURN
                or self.cancel_request is not None
                or self.receive_request is not None
            )

        if not await self._wait_for(progressed, half):
            await self._transition(
                RmaStatus.AWAITING_RETURN, "return_reminder", SYSTEM, {"ship_by": end.isoformat()}
            )
            if not await self._wait_for(progressed, end):
                await self._void_inbound()
                self.reason = "not_shipped_in_time"
                await self._transition(RmaStatus.EXPIRED, "expired", SYSTEM, {"label": "voided"})
                return
        await self._apply_cancel()

    async def _resolve(self, start: RmaStart, inspection: InspectionRequest) -> None:
        result = rules.disposition(
            start.resolution, inspection.grade, inspection.serial_matches, self.coverage
        )
        if result.coverage is not None:
            self.coverage = result.coverage
        await self._transition(
            RmaStatus.RESOLVING,
            "inspected",
            inspection.actor,
            {
                "grade": inspection.grade.value,
                "serial_matches": str(inspection.serial_matches).lower(),
                "disposition": result.disposition.value,
                "notes": inspection.notes,
            },
        )
        self.inspection = None
        disposition = result.disposition
        if disposition in (rules.Disposition.REFUND_FULL, rules.Disposition.REFUND_LESS_RESTOCKING):
            await self._refund(start, disposition is rules.Disposition.REFUND_LESS_RESTOCKING)
            self.settled = True
        elif disposition is rules.Disposition.SHIP_BACK:
            await self._ship_back(start)
            self.settled = True
            await self._wait_for(lambda: self.return_delivered, None)
            self.outcome = Outcome.RETURNED_TO_CUSTOMER
            await self._transition(RmaStatus.COMPLETED, "returned_to_customer", CARRIER)
        elif disposition is rules.Disposition.REPAIR and workflow.patched("repair-child"):
            await self._repair(start)
        elif disposition is rules.Disposition.REPLACEMENT and workflow.patched("replacement-child"):
            await self._replace(start)
        else:
            # Replacement runs as a child case once that lifecycle exists (issue #5); until
            # then the RMA waits in `resolving` for an outcome.
            await self._transition(RmaStatus.RESOLVING, f"awaiting_{disposition.value}", SYSTEM)
            self.settled = True
            await workflow.wait_condition(lambda: self.outcome is not None)

    async def _repair(self, start: RmaStart) -> None:
        """Run the repair as a child case and finish with what became of the unit."""
        item = start.items[0]
        self.repair_id = child_case_id(start.rma_id, "REP")
        repair = RepairStart(
            repair_id=self.repair_id,
            org_id=start.org_id,
            org_name=start.org_name,
            tracking_token=start.repair_tracking_token or f"{start.tracking_token}r",
            unit=RepairUnit(
                sku=item.sku,
                serial=item.serial,
                product_name=item.product_name or item.sku,
                category=item.category,
                purchased_at=start.purchased_at,
                unit_price=item.unit_price,
            ),
            fault=item.notes or item.reason.value,
            customer=start.customer,
            coverage=RepairCoverage((self.coverage or Coverage.PAID).value),
            policy=start.policy,
            public_base_url=start.public_base_url,
            center=self.center,
            # Routed at label time: the center holds the unit. Otherwise it is with us.
            unit_origin=None
            if self.center is not None
            else named(start.policy.return_address, start.org_name),
            rma_id=start.rma_id,
        )
        handle = await workflow.start_child_workflow(
            REPAIR_WORKFLOW,
            repair,
            id=repair_workflow_id(self.repair_id),
            result_type=RepairResult,
            # The repair is a case of its own: it outlives whatever happens to this one.
            parent_close_policy=ParentClosePolicy.ABANDON,
            task_timeout=WORKFLOW_TASK_TIMEOUT,
        )
        await self._transition(
            RmaStatus.RESOLVING, "repair_started", SYSTEM, {"repair_id": self.repair_id}
        )
        self.settled = True
        result: RepairResult | None = await self._child_outcome(handle, "repair", self.repair_id)
        if result is None:
            return
        detail = {"repair_id": self.repair_id, "repair_status": result.status.value}
        if result.status is RepairStatus.COMPLETED:
            self.outcome = Outcome.REPAIRED
            await self._transition(RmaStatus.COMPLETED, "repaired", SYSTEM, detail)
        elif result.status is RepairStatus.RETURNED_UNREPAIRED:
            self.outcome = Outcome.RETURNED_UNREPAIRED
            await self._transition(RmaStatus.COMPLETED, "returned_unrepaired", SYSTEM, detail)
        elif result.status is RepairStatus.CANCELLED:
            self.reason = "repair_cancelled"
            await self._transition(RmaStatus.CANCELLED, "repair_cancelled", SYSTEM, detail)
        elif result.status is RepairStatus.UNROUTABLE:
            # No center takes it: the unit is with us, so it goes back to the customer.
            await self._transition(RmaStatus.RESOLVING, "repair_unroutable", SYSTEM, detail)
            await self._ship_back(start)
            await self._wait_for(lambda: self.return_delivered, None)
            self.outcome = Outcome.RETURNED_UNREPAIRED
            await self._transition(RmaStatus.COMPLETED, "returned_unrepaired", CARRIER)
        else:
            # Beyond repair: the customer gets a new unit instead.
            await self._transition(RmaStatus.RESOLVING, "repair_beyond_repair", SYSTEM, detail)
            await self._replace(start)

    async def _replace(self, start: RmaStart) -> None:
        """Ship a new unit as a child case (standard mode: the defective one is with us)."""
        item = start.items[0]
        self.replacement_id = child_case_id(start.rma_id, "RPL")
        replacement = ReplacementStart(
            replacement_id=self.replacement_id,
            org_id=start.org_id,
            org_name=start.org_name,
            tracking_token=start.replacement_tracking_token or f"{start.tracking_token}x",
            mode=ReplacementMode.STANDARD,
            sku=item.sku,
            serial=item.serial,
            replacement_sku=item.sku,
            replacement_name=item.product_name or item.sku,
            unit_price=item.unit_price,
            customer=start.customer,
            payment_method=order_payment_method(start.order_ref),
            policy=start.policy,
            public_base_url=start.public_base_url,
            rma_id=start.rma_id,
            repair_id=self.repair_id,
        )
        handle = await workflow.start_child_workflow(
            REPLACEMENT_WORKFLOW,
            replacement,
            id=replacement_workflow_id(self.replacement_id),
            result_type=ReplacementResult,
            parent_close_policy=ParentClosePolicy.ABANDON,
            task_timeout=WORKFLOW_TASK_TIMEOUT,
        )
        await self._transition(
            RmaStatus.RESOLVING,
            "replacement_started",
            SYSTEM,
            {"replacement_id": self.replacement_id},
        )
        self.settled = True
        result: ReplacementResult | None = await self._child_outcome(
            handle, "replacement", self.replacement_id
        )
        if result is None:
            return
        detail = {
            "replacement_id": self.replacement_id,
            "replacement_status": result.status.value,
        }
        if result.status is ReplacementStatus.COMPLETED:
            self.outcome = Outcome.REPLACED
            await self._transition(RmaStatus.COMPLETED, "replaced", SYSTEM, detail)
        elif result.status is ReplacementStatus.REFUNDED:
            # The backorder gave up and refunded the unit's price.
            self.outcome = Outcome.REFUNDED
            self.refund_amount = item.unit_price * item.quantity
            await self._transition(RmaStatus.COMPLETED, "refunded", SYSTEM, detail)
        else:
            self.reason = f"replacement_{result.status.value}"
            await self._transition(RmaStatus.CANCELLED, "replacement_ended", SYSTEM, detail)

    async def _child_outcome(
        self, handle: workflow.ChildWorkflowHandle[Any, ChildResult], kind: str, case_id: str
    ) -> ChildResult | None:
        """The child case's result; None when it ended without one (an operator terminated
        it, it failed or timed out): the RMA is then cancelled with that reason rather than
        failing itself, so its case never sticks in `resolving`."""
        try:
            return await handle
        except ChildWorkflowError as error:
            # Histories from before this handling failed the RMA here: replay them as such.
            if not workflow.patched("child-ended-abnormally"):
                raise
            self.reason = f"{kind}_ended"
            cause = type(error.cause).__name__ if error.cause else "unknown"
            await self._transition(
                RmaStatus.CANCELLED,
                f"{kind}_ended",
                SYSTEM,
                {f"{kind}_id": case_id, "cause": cause},
            )
            return None

    async def _refund(self, start: RmaStart, less_restocking: bool) -> None:
        gross = sum((item.value for item in start.items), Decimal(0))
        breakdown = rules.refund_breakdown(
            gross, start.policy.restocking_fee_percent, less_restocking
        )
        if breakdown.refund > 0:
            await workflow.execute_activity_method(
                PaymentActivities.execute_payment,
                PaymentRequest(
                    idempotency_key=step_key(workflow.info().workflow_id, "refund"),
                    org_id=start.org_id,
                    case_id=start.rma_id,
                    kind=PaymentKind.REFUND,
                    amount=breakdown.refund,
                    currency=start.policy.currency,
                    payment_method=order_payment_method(start.order_ref),
                ),
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=EXTERNAL_RETRY,
            )
        self.refund_amount = breakdown.refund
        self.outcome = Outcome.REFUNDED
        await self._transition(
            RmaStatus.COMPLETED,
            "refunded",
            SYSTEM,
            {
                "amount": f"{breakdown.refund:.2f}",
                "restocking_fee": f"{breakdown.restocking_fee:.2f}",
                "currency": start.policy.currency,
            },
        )

    async def _ship_back(self, start: RmaStart) -> None:
        wf_id = workflow.info().workflow_id
        origin = named(start.policy.return_address, start.org_name)
        destination = _customer_address(start)
        self.outbound = await workflow.execute_activity_method(
            CarrierActivities.book_shipment,
            BookShipment(
                idempotency_key=step_key(wf_id, "ship-back"),
                org_id=start.org_id,
                case_id=start.rma_id,
                workflow_id=wf_id,
                direction=Direction.OUTBOUND,
                origin=origin,
                destination=destination,
            ),
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            retry_policy=EXTERNAL_RETRY,
        )
        label = await self._render_label(
            start, self.outbound, origin, destination, "shipping_label", "ship-back-label"
        )
        self.documents.append(label)
        await self._transition(
            RmaStatus.RESOLVING,
            "shipping_back",
            SYSTEM,
            {"tracking_number": self.outbound.tracking_number},
        )

    async def _render_label(
        self,
        start: RmaStart,
        shipment: ShipmentRef,
        origin: Address,
        destination: Address,
        kind: str,
        step: str,
    ) -> DocumentRef:
        return await workflow.execute_local_activity_method(
            DocumentActivities.render_label,
            LabelRequest(
                idempotency_key=step_key(workflow.info().workflow_id, step),
                org_id=start.org_id,
                case_id=start.rma_id,
                label=LabelData(
                    carrier=shipment.carrier,
                    service=shipment.service,
                    tracking_number=shipment.tracking_number,
                    case_number=start.rma_id,
                    from_address=origin,
                    to_address=destination,
                    tracking_url=f"{start.public_base_url}/track/{start.tracking_token}",
                    kind=kind,
                ),
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    async def _apply_cancel(self) -> bool:
        request = self.cancel_request
        if request is None:
            return False
        await self._void_inbound()
        self.reason = request.reason or None
        await self._transition(
            RmaStatus.CANCELLED,
            "cancelled",
            request.actor,
            {"reason": request.reason} if request.reason else {},
        )
        self.cancel_request = None
        return True

    async def _void_inbound(self) -> None:
        if self.inbound is None:
            return
        await workflow.execute_activity_method(
            CarrierActivities.void_shipment,
            VoidShipment(self.inbound.tracking_number),
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            retry_policy=EXTERNAL_RETRY,
        )

    # ------------------------------------------------------------ waiting, scans

    async def _wait_for(self, ready: Callable[[], bool], deadline: datetime | None) -> bool:
        """Wait until `ready()` or the deadline, applying carrier scans as they come."""
        while True:
            await self._apply_scans()
            if ready():
                return True
            timeout = None if deadline is None else deadline - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                return False
            try:
                await workflow.wait_condition(lambda: ready() or bool(self.scans), timeout=timeout)
            except TimeoutError:
                await self._apply_scans()
                return ready()

    async def _apply_scans(self) -> None:
        while self.scans:
            scan = self.scans.pop(0)
            detail = {
                "tracking_number": scan.tracking_number,
                "location": scan.location,
                "occurred_at": scan.occurred_at.isoformat(),
            }
            status = self._status()
            event = f"carrier_{scan.status.value}"
            if self.inbound and scan.tracking_number == self.inbound.tracking_number:
                if status is RmaStatus.AWAITING_RETURN and scan.status in MOVEMENT_SCANS:
                    status = RmaStatus.IN_TRANSIT
            elif (
                self.outbound
                and scan.tracking_number == self.outbound.tracking_number
                and scan.status is CarrierStatus.DELIVERED
            ):
                self.return_delivered = True
            await self._transition(status, event, CARRIER, detail)

    # ---------------------------------------------------------------- messages

    @workflow.update
    async def authorize(self) -> RmaView:
        """The create call's answer: the authorization decision, once recorded."""
        await workflow.wait_condition(lambda: self.recorded or self.unrecordable is not None)
        if self.unrecordable is not None:
            raise unrecordable(self.unrecordable)
        return self.view()

    @workflow.update
    async def decide_review(self, decision: ReviewDecision) -> RmaView:
        self.review = decision
        await workflow.wait_condition(lambda: self.review is None)
        return self.view()

    @decide_review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        self._require(
            "approve" if decision.approve else "reject",
            self.review is None and self.cancel_request is None,
        )

    @workflow.update
    async def cancel(self, request: CancelRequest) -> RmaView:
        self.cancel_request = request
        await workflow.wait_condition(lambda: self.cancel_request is None)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        scanned = any(s.status in MOVEMENT_SCANS for s in self.scans)
        self._require(
            "cancel",
            self.cancel_request is None
            and self.review is None
            and self.receive_request is None
            and not scanned,
        )

    @workflow.update
    async def receive(self, request: ReceiveRequest) -> RmaView:
        self.receive_request = request
        await workflow.wait_condition(lambda: self.receive_request is None)
        return self.view()

    @receive.validator
    def _validate_receive(self, request: ReceiveRequest) -> None:
        self._require("receive", self.receive_request is None and self.cancel_request is None)

    @workflow.update
    async def inspect(self, request: InspectionRequest) -> RmaView:
        self.inspection = request
        await workflow.wait_condition(lambda: self.inspection is None)
        # Answer with `resolving` if the resolution takes longer; it goes on regardless.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self.settled, timeout=SETTLE_WAIT)
        return self.view()

    @inspect.validator
    def _validate_inspect(self, request: InspectionRequest) -> None:
        self._require("inspection", self.inspection is None)

    @workflow.signal
    def carrier_event(self, event: CarrierEvent) -> None:
        # Carriers deliver at least once: the event id makes the second copy a no-op.
        if event.event_id in self.seen_events:
            return
        self.seen_events.add(event.event_id)
        self.scans.append(event)

    @workflow.query
    def current(self) -> RmaView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> RmaView:
        assert self.start is not None
        return RmaView(
            rma_id=self.start.rma_id,
            status=self._status(),
            reason=self.reason,
            coverage=self.coverage,
            outcome=self.outcome,
            refund_amount=self.refund_amount,
        )

    def _status(self) -> RmaStatus:
        assert self.status is not None
        return self.status

    def _require(self, action: str, no_conflicting_command: bool) -> None:
        status = self.status or RmaStatus.PENDING_REVIEW
        allowed = ALLOWED_ACTIONS[status]
        if not self.recorded or action not in allowed or not no_conflicting_command:
            raise invalid_transition(action, status.value, allowed)

    async def _transition(
        self, status: RmaStatus, event: str, actor: Actor, detail: dict[str, str] | None = None
    ) -> None:
        assert self.start is not None
        self.status = status
        fields: dict[str, Any] = {
            "coverage": self.coverage.value if self.coverage else None,
            "reason": self.reason,
            "outcome": self.outcome.value if self.outcome else None,
            "refund_amount": self.refund_amount,
        }
        if self.center is not None:
            fields["receiving_org_id"] = self.center.org_id
        await self.timeline.project(
            status,
            event,
            actor,
            detail,
            fields=fields,
            links={
                name: value
                for name, value in (
                    ("repair_id", self.repair_id),
                    ("replacement_id", self.replacement_id),
                )
                if value
            },
        )


def _customer_address(start: RmaStart) -> Address:
    address = start.customer.address
    if address is None:
        raise ValueError("an RMA needs the customer's address for the return label")
    return named(address, start.customer.name)


def _long_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"
