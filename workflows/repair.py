"""The repair workflow (lifecycles.md §2): routing, unit in, diagnosis, quote, parts, repair,
quality check, return shipment with a Certificate of Repair, SLA clock.

As in the RMA workflow, one main loop owns every transition: update handlers validate
(refusing anything not in `REPAIR_TRANSITIONS` before it reaches history), hand the command
to the loop and wait until it has been applied, so the API answers with the resulting state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.stubs import CarrierActivities, DocumentActivities, RoutingActivities
    from domain.common import (
        WORKFLOW_TASK_TIMEOUT,
        Address,
        CarrierEvent,
        CarrierStatus,
        Direction,
        DocumentRef,
        ShipmentRef,
    )
    from domain.contracts.carrier import VoidShipment
    from domain.contracts.documents import RepairCertificateRequest
    from domain.contracts.routing import RouteRequest
    from domain.contracts.store import CaseItemRecord, NewCase
    from domain.documents import CertificatePart, RepairCertificateData
    from domain.ids import child_case_id, replacement_workflow_id, step_key
    from domain.repair import (
        QA_FAILURES_ALLOWED,
        REPORTABLE_FROM,
        TERMINAL_REPAIR_STATUSES,
        AssignedCenter,
        Diagnosis,
        Part,
        QaReport,
        Quote,
        QuoteDecision,
        RepairCancel,
        RepairResult,
        RepairStart,
        RepairStatus,
        RepairView,
        StatusChange,
        allowed_next,
        can_transition,
        cancellable,
        needs_quote,
        quote,
        sla_due_at,
    )
    from domain.replacement import REPLACEMENT_WORKFLOW, ReplacementMode, ReplacementStart
    from domain.rma import Actor
    from workflows.base import (
        EXTERNAL_RETRY,
        EXTERNAL_TIMEOUT,
        QUICK_RETRY,
        QUICK_TIMEOUT,
        RENDER_TIMEOUT,
        invalid_transition,
    )
    from workflows.recording import record_new_case, unrecordable
    from workflows.shipping import Parcel, book_with_label, named
    from workflows.timeline import Timeline

S = RepairStatus
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
Command = StatusChange | Diagnosis | QaReport | QuoteDecision | RepairCancel


@workflow.defn(name="Repair")
class RepairWorkflow:
    def __init__(self) -> None:
        self.start: RepairStart | None = None
        self.status = S.AWAITING_UNIT
        self.center: AssignedCenter | None = None
        self.recorded = False
        # Why the case could not be stored, when its data is refused for good.
        self.unrecordable: str | None = None
        self.timeline = Timeline("")
        self.documents: list[DocumentRef] = []
        self.inbound: ShipmentRef | None = None
        self.outbound: ShipmentRef | None = None
        self.scans: list[CarrierEvent] = []
        self.seen_events: set[str] = set()
        self.inbound_scanned = False
        self.delivered = False
        # The repair itself.
        self.diagnosis: Diagnosis | None = None
        self.quote: Quote | None = None
        self.quote_expires_at: datetime | None = None
        self.quote_outcome: str | None = None
        self.qa_failures = 0
        self.repaired = False
        # The SLA clock: from `received` to `ready_to_ship`, paused while a quote waits.
        self.received_at: datetime | None = None
        self.ready_at: datetime | None = None
        self.pauses: list[tuple[datetime, datetime | None]] = []
        self.sla_breached = False
        # The command handed from an update handler to the main loop; None once applied.
        self.pending: Command | None = None

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: RepairStart) -> RepairResult:
        self.start = start
        self.timeline = Timeline(start.repair_id)
        await self._open(start)
        if self.unrecordable is not None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise unrecordable(self.unrecordable)
        while self.status not in TERMINAL_REPAIR_STATUSES:
            await self._step(start)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return RepairResult(
            repair_id=start.repair_id,
            status=self.status,
            sla_breached=self.sla_breached,
            documents=self.documents,
            shipments=[s for s in (self.inbound, self.outbound) if s is not None],
        )

    async def _open(self, start: RepairStart) -> None:
        """Route the job, record the case, and send the customer a label to the center."""
        self.center = start.center
        if self.center is None:
            country = start.customer.address.country if start.customer.address else ""
            routed = await workflow.execute_local_activity_method(
                RoutingActivities.route_repair,
                RouteRequest(category=start.unit.category, country=country, org_id=start.org_id),
                start_to_close_timeout=QUICK_TIMEOUT,
                retry_policy=QUICK_RETRY,
            )
            self.center = routed.center
        retailer = Actor("retailer", start.org_id)
        timeline = [
            self.timeline.entry(S.AWAITING_UNIT, "created", retailer, {"fault": start.fault})
        ]
        if self.center is None:
            self.status = S.UNROUTABLE
            timeline.append(
                self.timeline.entry(
                    S.UNROUTABLE,
                    "unroutable",
                    SYSTEM,
                    {"category": start.unit.category, "reason": "no_center_fits"},
                )
            )
        else:
            timeline.append(
                self.timeline.entry(
                    S.AWAITING_UNIT, "routed", SYSTEM, {"center": self.center.org_id}
                )
            )
            if start.unit_origin is None:
                # A parent case delivered the unit to the center already.
                self.status = S.RECEIVED
                self.received_at = workflow.now()
                timeline.append(self.timeline.entry(S.RECEIVED, "received", SYSTEM))
        self.unrecordable = await record_new_case(
            NewCase(
                case_id=start.repair_id,
                org_id=start.org_id,
                case_type="repair",
                workflow_id=workflow.info().workflow_id,
                status=self.status.value,
                tracking_token=start.tracking_token,
                customer=start.customer,
                created_at=workflow.now(),
                currency=start.policy.currency,
                coverage=start.coverage.value,
                reason="unroutable" if self.status is S.UNROUTABLE else None,
                receiving_org_id=self.center.org_id if self.center else None,
                items=[
                    CaseItemRecord(
                        sku=start.unit.sku,
                        serial=start.unit.serial,
                        quantity=1,
                        unit_price=start.unit.unit_price,
                        reason="repair",
                        notes=start.fault,
                    )
                ],
                data={"customer_first_name": start.customer.first_name, **self._data()},
                links={"rma_id": start.rma_id} if start.rma_id else {},
                timeline=timeline,
            ),
        )
        if self.unrecordable is not None:
            return
        self.recorded = True
        if self.status is S.AWAITING_UNIT and start.unit_origin is not None:
            assert self.center is not None
            self.inbound = await self._ship(
                Direction.INBOUND,
                named(start.unit_origin, start.customer.name),
                named(self.center.address, self.center.name),
                "inbound-shipment",
                "return_label",
            )
            await self._transition(
                S.AWAITING_UNIT,
                "label_created",
                SYSTEM,
                {"tracking_number": self.inbound.tracking_number},
            )

    async def _step(self, start: RepairStart) -> None:
        """Wait for what moves the job on from its current state, and apply it."""
        if self.status is S.AWAITING_APPROVAL:
            assert self.quote_expires_at is not None
            if not await self._wait_for(lambda: self.pending is not None, self.quote_expires_at):
                await self._close_pause()
                self.quote_outcome = "expired"
                await self._ship_back(start, "quote_expired", SYSTEM)
                return
        elif self.status in (S.READY_TO_SHIP, S.SHIPPED):
            await self._wait_for(lambda: self.pending is not None or self.delivered, None)
            if self.pending is None:
                return  # the scans moved it on
        else:
            await self._wait_for(lambda: self.pending is not None, None)
        command = self.pending
        assert command is not None
        try:
            await self._apply(start, command)
        finally:
            self.pending = None

    async def _apply(self, start: RepairStart, command: Command) -> None:
        if isinstance(command, RepairCancel):
            await self._cancel(command)
        elif isinstance(command, StatusChange):
            await self._report(command)
        elif isinstance(command, Diagnosis):
            await self._diagnose(start, command)
        elif isinstance(command, QuoteDecision):
            await self._close_pause()
            if command.approve:
                self.quote_outcome = "approved"
                await self._start_work(command.actor, "quote_approved")
            else:
                self.quote_outcome = "declined"
                await self._ship_back(start, "quote_declined", command.actor)
        else:
            await self._quality_check(start, command)

    async def _report(self, change: StatusChange) -> None:
        detail = {"note": change.note} if change.note else {}
        if change.status is S.RECEIVED:
            self.received_at = workflow.now()
            await self._transition(S.RECEIVED, "received", change.actor, detail)
        elif change.status is S.REPAIRING:
            await self._transition(S.REPAIRING, "parts_received", change.actor, detail)
        else:
            await self._transition(change.status, change.status.value, change.actor, detail)

    async def _diagnose(self, start: RepairStart, diagnosis: Diagnosis) -> None:
        self.diagnosis = diagnosis
        detail = {
            "fault_code": diagnosis.fault_code,
            "findings": diagnosis.findings,
            "labor_minutes": str(diagnosis.labor_minutes),
            "parts": str(len(diagnosis.parts)),
        }
        if not diagnosis.repairable:
            await self._beyond_repair(diagnosis.actor, "not_repairable", detail)
            return
        if needs_quote(start.coverage):
            assert self.center is not None
            self.quote = quote(diagnosis.parts, diagnosis.labor_minutes, self.center.labor_rate)
            self.quote_expires_at = workflow.now() + start.policy.quote_valid_for
            self.pauses.append((workflow.now(), None))
            await self._transition(
                S.AWAITING_APPROVAL,
                "quoted",
                diagnosis.actor,
                {
                    **detail,
                    "amount": f"{self.quote.total:.2f}",
                    "currency": start.policy.currency,
                    "expires_at": self.quote_expires_at.isoformat(),
                },
            )
            return
        await self._transition(S.DIAGNOSING, "diagnosed", diagnosis.actor, detail)
        await self._start_work(diagnosis.actor, "covered")

    async def _start_work(self, actor: Actor, event: str) -> None:
        """Parts first if the diagnosis listed any, else straight to the bench."""
        assert self.diagnosis is not None
        if self.diagnosis.parts:
            parts = ", ".join(f"{p.quantity}x {p.part_no}" for p in self.diagnosis.parts)
            await self._transition(S.AWAITING_PARTS, event, actor, {"parts": parts})
        else:
            await self._transition(S.REPAIRING, event, actor)

    async def _quality_check(self, start: RepairStart, report: QaReport) -> None:
        detail = {"notes": report.notes} if report.notes else {}
        if report.passed:
            self.repaired = True
            await self._transition(S.QUALITY_CHECK, "qa_passed", report.actor, detail)
            await self._issue_certificate(start, report)
            await self._ship_back(start, "ready_to_ship", SYSTEM)
            return
        self.qa_failures += 1
        detail["failures"] = str(self.qa_failures)
        if self.qa_failures > QA_FAILURES_ALLOWED:
            await self._beyond_repair(report.actor, "qa_failed_twice", detail)
        else:
            await self._transition(S.REPAIRING, "qa_failed", report.actor, detail)

    async def _beyond_repair(self, actor: Actor, reason: str, detail: dict[str, str]) -> None:
        """Terminal for the repair; the customer gets a new unit. A parent RMA starts that
        replacement itself (it owns the customer's outcome); a direct job starts it here."""
        start = self._start()
        links: dict[str, str] = {}
        if start.rma_id is None:
            replacement_id = child_case_id(start.repair_id, "RPL")
            await workflow.start_child_workflow(
                REPLACEMENT_WORKFLOW,
                ReplacementStart(
                    replacement_id=replacement_id,
                    org_id=start.org_id,
                    org_name=start.org_name,
                    tracking_token=start.replacement_tracking_token or f"{start.tracking_token}x",
                    mode=ReplacementMode.STANDARD,
                    sku=start.unit.sku,
                    serial=start.unit.serial,
                    replacement_sku=start.unit.sku,
                    replacement_name=start.unit.product_name,
                    unit_price=start.unit.unit_price,
                    customer=start.customer,
                    payment_method="original",
                    policy=start.policy,
                    public_base_url=start.public_base_url,
                    repair_id=start.repair_id,
                ),
                id=replacement_workflow_id(replacement_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                task_timeout=WORKFLOW_TASK_TIMEOUT,
            )
            links["replacement_id"] = replacement_id
            detail = {**detail, "replacement_id": replacement_id}
        await self._transition(
            S.BEYOND_REPAIR, "beyond_repair", actor, {**detail, "reason": reason}, links
        )

    async def _cancel(self, request: RepairCancel) -> None:
        if self.inbound is not None and not self.inbound_scanned:
            await workflow.execute_activity_method(
                CarrierActivities.void_shipment,
                VoidShipment(self.inbound.tracking_number),
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=EXTERNAL_RETRY,
            )
        await self._close_pause()
        detail = {"reason": request.reason} if request.reason else {}
        if self.received_at is not None:
            detail["unit"] = "held_at_center"
        await self._transition(S.CANCELLED, "cancelled", request.actor, detail)

    async def _ship_back(self, start: RepairStart, event: str, actor: Actor) -> None:
        """Book the parcel from the center to the customer and move to `ready_to_ship`."""
        assert self.center is not None and start.customer.address is not None
        self.outbound = await self._ship(
            Direction.OUTBOUND,
            named(self.center.address, self.center.name),
            named(start.customer.address, start.customer.name),
            "return-shipment",
            "shipping_label",
        )
        self.ready_at = workflow.now()
        await self._check_sla()
        await self._transition(
            S.READY_TO_SHIP, event, actor, {"tracking_number": self.outbound.tracking_number}
        )

    async def _ship(
        self, direction: Direction, origin: Address, destination: Address, step: str, kind: str
    ) -> ShipmentRef:
        start = self._start()
        shipment, label = await book_with_label(
            Parcel(
                org_id=start.org_id,
                case_id=start.repair_id,
                tracking_url=f"{start.public_base_url}/track/{start.tracking_token}",
                direction=direction,
                origin=origin,
                destination=destination,
                step=step,
                label_kind=kind,
            )
        )
        self.documents.append(label)
        return shipment

    async def _issue_certificate(self, start: RepairStart, report: QaReport) -> None:
        assert self.center is not None and self.diagnosis is not None
        today = workflow.now()
        certificate = await workflow.execute_local_activity_method(
            DocumentActivities.render_repair_certificate,
            RepairCertificateRequest(
                idempotency_key=step_key(workflow.info().workflow_id, "repair-certificate"),
                org_id=start.org_id,
                case_id=start.repair_id,
                public_base_url=start.public_base_url,
                certificate=RepairCertificateData(
                    certificate_number=child_case_id(start.repair_id, "CR"),
                    job_number=start.repair_id,
                    retailer_name=start.org_name,
                    repair_center_name=self.center.name,
                    customer_first_name=start.customer.first_name,
                    product_name=start.unit.product_name,
                    sku=start.unit.sku,
                    serial=start.unit.serial,
                    fault_code=self.diagnosis.fault_code,
                    fault=start.fault,
                    work_done=self.diagnosis.findings
                    + (f" QA: {report.notes}" if report.notes else ""),
                    parts=[
                        CertificatePart(p.part_no, p.description, p.quantity)
                        for p in self.diagnosis.parts
                    ],
                    qa_passed_on=_long_date(today),
                    repair_warranty_until=_long_date(today + start.policy.repair_warranty),
                    verification_code="",
                    verify_url="",
                ),
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.documents.append(certificate)

    async def _close_pause(self) -> None:
        if self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1] = (self.pauses[-1][0], workflow.now())

    # --------------------------------------------------------------------- SLA

    def _sla_due(self) -> datetime | None:
        if self.received_at is None:
            return None
        start = self._start()
        return sla_due_at(
            self.received_at, start.policy.repair_turnaround, self.pauses, workflow.now()
        )

    def _sla_alarm(self) -> datetime | None:
        """When to wake up to flag a breach: only while the clock runs."""
        if self.sla_breached or self.ready_at is not None or self.status is S.AWAITING_APPROVAL:
            return None
        if self.status in TERMINAL_REPAIR_STATUSES:
            return None
        return self._sla_due()

    async def _check_sla(self) -> None:
        """Flag a breach once: the job is not ready by its due time (pauses excluded)."""
        if self.sla_breached or self.status in TERMINAL_REPAIR_STATUSES:
            return
        due = self._sla_due()
        if due is None or self.status is S.AWAITING_APPROVAL:
            return
        reached = self.ready_at or workflow.now()
        if reached >= due:
            self.sla_breached = True
            await self._transition(
                self.status, "sla_breached", SYSTEM, {"sla_due_at": due.isoformat()}
            )

    # ------------------------------------------------------------ waiting, scans

    async def _wait_for(self, ready: Callable[[], bool], deadline: datetime | None) -> bool:
        """Wait until `ready()` or the deadline, applying scans and the SLA clock meanwhile."""
        while True:
            await self._apply_scans()
            await self._check_sla()
            if ready():
                return True
            now = workflow.now()
            if deadline is not None and now >= deadline:
                return False
            wake = [moment for moment in (deadline, self._sla_alarm()) if moment is not None]
            timeout = min(wake) - now if wake else None
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
            if self.inbound and scan.tracking_number == self.inbound.tracking_number:
                self.inbound_scanned = self.inbound_scanned or scan.status in MOVEMENT_SCANS
                await self._transition(self.status, event, CARRIER, detail)
                continue
            if not (self.outbound and scan.tracking_number == self.outbound.tracking_number):
                await self._transition(self.status, event, CARRIER, detail)
                continue
            if self.status is S.READY_TO_SHIP and scan.status in MOVEMENT_SCANS:
                await self._transition(S.SHIPPED, event, CARRIER, detail)
            else:
                await self._transition(self.status, event, CARRIER, detail)
            if scan.status is CarrierStatus.DELIVERED and self.status is S.SHIPPED:
                self.delivered = True
                final = S.COMPLETED if self.repaired else S.RETURNED_UNREPAIRED
                await self._transition(final, final.value, CARRIER)

    # ---------------------------------------------------------------- messages

    @workflow.update
    async def accept(self) -> RepairView:
        """The create call's answer: the job as routed and recorded."""
        await workflow.wait_condition(lambda: self.recorded or self.unrecordable is not None)
        if self.unrecordable is not None:
            raise unrecordable(self.unrecordable)
        return self.view()

    @workflow.update
    async def report_status(self, change: StatusChange) -> RepairView:
        return await self._handle(change)

    @report_status.validator
    def _validate_status(self, change: StatusChange) -> None:
        expected = REPORTABLE_FROM.get(change.status)
        self._require(change.status.value, change.status, expected is self.status)

    @workflow.update
    async def diagnose(self, diagnosis: Diagnosis) -> RepairView:
        return await self._handle(diagnosis)

    @diagnose.validator
    def _validate_diagnosis(self, diagnosis: Diagnosis) -> None:
        self._require("diagnosis", None, self.status is S.DIAGNOSING)
        try:
            quote(diagnosis.parts, diagnosis.labor_minutes, self._labor_rate())
        except ValueError as exc:
            raise ApplicationError(str(exc), type="validation_error", non_retryable=True) from exc

    @workflow.update
    async def decide_quote(self, decision: QuoteDecision) -> RepairView:
        return await self._handle(decision)

    @decide_quote.validator
    def _validate_quote(self, decision: QuoteDecision) -> None:
        target = S.REPAIRING if decision.approve else S.READY_TO_SHIP
        self._require(
            "approve" if decision.approve else "decline",
            target,
            # Once the quote has expired the job is on its way back, even while the status
            # still reads awaiting_approval as the return parcel is booked.
            self.status is S.AWAITING_APPROVAL and self.quote_outcome is None,
        )

    @workflow.update
    async def report_qa(self, report: QaReport) -> RepairView:
        return await self._handle(report)

    @report_qa.validator
    def _validate_qa(self, report: QaReport) -> None:
        self._require("qa", None, self.status is S.QUALITY_CHECK)

    @workflow.update
    async def cancel(self, request: RepairCancel) -> RepairView:
        return await self._handle(request)

    @cancel.validator
    def _validate_cancel(self, request: RepairCancel) -> None:
        # A parcel already moving towards the center can be neither voided nor stopped.
        on_its_way = self.status is S.AWAITING_UNIT and self.inbound_scanned
        # An expired quote's return parcel is being booked: the job is going back already.
        going_back = self.status is S.AWAITING_APPROVAL and self.quote_outcome is not None
        self._require(
            "cancel", S.CANCELLED, cancellable(self.status) and not on_its_way and not going_back
        )

    @workflow.signal
    def carrier_event(self, event: CarrierEvent) -> None:
        # Carriers deliver at least once: the event id makes the second copy a no-op.
        if event.event_id in self.seen_events:
            return
        self.seen_events.add(event.event_id)
        self.scans.append(event)

    @workflow.query
    def current(self) -> RepairView:
        return self.view()

    async def _handle(self, command: Command) -> RepairView:
        self.pending = command
        await workflow.wait_condition(lambda: self.pending is None)
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> RepairView:
        start = self._start()
        return RepairView(
            repair_id=start.repair_id,
            status=self.status,
            assigned_center=self.center.org_id if self.center else None,
            quote=self.quote,
            quote_expires_at=self.quote_expires_at,
            sla_breached=self.sla_breached,
        )

    def _start(self) -> RepairStart:
        assert self.start is not None
        return self.start

    def _labor_rate(self) -> Decimal:
        return self.center.labor_rate if self.center else Decimal(0)

    def _require(self, action: str, target: RepairStatus | None, state_allows: bool) -> None:
        """Refuse before anything reaches history: wrong state, a command already in
        flight, or a target the transition table does not allow from here."""
        ok = (
            self.recorded
            and self.pending is None
            and state_allows
            and (target is None or can_transition(self.status, target))
        )
        if not ok:
            raise invalid_transition(action, self.status.value, allowed_next(self.status))

    def _data(self) -> dict[str, Any]:
        """The job's facts for the read model: the API computes `sla_due_at` from these."""
        start = self._start()
        q = self.quote
        return {
            "unit": {
                "sku": start.unit.sku,
                "serial": start.unit.serial,
                "product_name": start.unit.product_name,
                "category": start.unit.category,
            },
            "fault": start.fault,
            "assigned_center": self.center.org_id if self.center else None,
            "quote": None
            if q is None or self.quote_expires_at is None
            else {
                "parts_total": f"{q.parts_total:.2f}",
                "labor_total": f"{q.labor_total:.2f}",
                "total": f"{q.total:.2f}",
                "expires_at": self.quote_expires_at.isoformat(),
                "outcome": self.quote_outcome,
            },
            "diagnosis": None
            if self.diagnosis is None
            else {
                "fault_code": self.diagnosis.fault_code,
                "findings": self.diagnosis.findings,
                "labor_minutes": self.diagnosis.labor_minutes,
                "repairable": self.diagnosis.repairable,
                "parts": [_part_json(p) for p in self.diagnosis.parts],
            },
            "qa_failures": self.qa_failures,
            "sla": {
                "received_at": self.received_at.isoformat() if self.received_at else None,
                "turnaround_seconds": start.policy.repair_turnaround.total_seconds(),
                "pauses": [[p.isoformat(), e.isoformat() if e else None] for p, e in self.pauses],
                "ready_at": self.ready_at.isoformat() if self.ready_at else None,
                "breached": self.sla_breached,
            },
        }

    async def _transition(
        self,
        status: RepairStatus,
        event: str,
        actor: Actor,
        detail: dict[str, str] | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        await self.timeline.project(
            status,
            event,
            actor,
            detail,
            fields={"reason": _reason(status, event, detail)},
            data=self._data(),
            links=links,
        )


def _reason(status: RepairStatus, event: str, detail: dict[str, str] | None) -> str | None:
    if status is S.BEYOND_REPAIR and detail:
        return detail.get("reason")
    if status is S.UNROUTABLE:
        return "unroutable"
    return None


def _part_json(part: Part) -> dict[str, Any]:
    return {
        "part_no": part.part_no,
        "description": part.description,
        "quantity": part.quantity,
        "unit_price": f"{part.unit_price:.2f}",
    }


def _long_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"
