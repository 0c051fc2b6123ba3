"""The repair workflow (lifecycles.md §2): routing, unit in, diagnosis, quote, parts, repair,
quality check, return shipment with a Certificate of Repair, SLA clock.

As in the RMA workflow, one main loop owns every transition: update handlers validate
(refusing anything not in `REPAIR_TRANSITIONS` before it reaches history), hand the command
to the loop through its slot and wait until it has been applied, so the API answers with the
resulting state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import repair
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
    from domain.contracts import facts
    from domain.contracts.documents import RepairCertificateRequest
    from domain.contracts.events import CaseEvent as E
    from domain.contracts.starts import replacement_from_repair
    from domain.contracts.store import CaseProjection
    from workflows.base import invalid_transition, refusal
    from workflows.carrier_errors import CarrierErrors
    from workflows.carrier_scans import (
        MOVEMENT_SCANS,
        CarrierScans,
        ScannedCase,
        scan_detail,
        scan_event,
    )
    from workflows.certificates import Certificates
    from workflows.children import start_replacement
    from workflows.commands import CommandSlot
    from workflows.patches import batched, rounding_currency
    from workflows.recording import CaseRecord, new_case, one_unit
    from workflows.routing import route_repair
    from workflows.shipping import Shipper, booked, named, void
    from workflows.timeline import Timeline

S = repair.RepairStatus
SYSTEM = Actor.system()
CARRIER = Actor.carrier()
Detail = dict[str, str] | None


@workflow.defn(name=repair.REPAIR_WORKFLOW)
class RepairWorkflow(ScannedCase):
    @workflow.init
    def __init__(self, start: repair.RepairStart) -> None:
        self.start = start
        self.status = S.AWAITING_UNIT
        self.center: repair.AssignedCenter | None = None
        self.case = CaseRecord()
        self.timeline = Timeline(start.repair_id)
        # A booking the carrier refuses waits for the retailer's retry (`retry_shipping`).
        self.shipper = Shipper.for_case(
            start, start.repair_id, CarrierErrors(self.timeline, lambda: self.status)
        )
        self.certificates = Certificates(start.org_id, start.repair_id, start.public_base_url)
        self.documents: list[DocumentRef] = []
        self.inbound: ShipmentRef | None = None
        self.outbound: ShipmentRef | None = None
        self.scans = CarrierScans()
        self.inbound_scanned = False
        self.delivered = False
        # The repair itself.
        self.diagnosis: repair.Diagnosis | None = None
        self.quote: repair.PendingQuote | None = None
        self.qa_failures = 0
        self.repaired = False
        self.sla = repair.SlaClock(start.policy.repair_turnaround)
        # The center's (or the customer's) command, one at a time.
        self.commands: CommandSlot[repair.RepairCommand] = CommandSlot()

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: repair.RepairStart) -> repair.RepairResult:
        await self._open(start)
        await self.case.fail_if_refused()
        while self.status not in repair.TERMINAL_REPAIR_STATUSES:
            await self._step(start)
        await workflow.wait_condition(workflow.all_handlers_finished)
        shipments = booked(self.inbound, self.outbound)
        breached = self.sla.breached
        return repair.RepairResult(
            start.repair_id, self.status, breached, self.documents, shipments
        )

    async def _open(self, start: repair.RepairStart) -> None:
        """Route the job, record the case, and send the customer a label to the center."""
        self.center = start.center
        if self.center is None:
            country = start.customer.address.country if start.customer.address else ""
            self.center = await route_repair(start.unit.category, country, start.org_id)
        unit, retailer = start.unit, Actor.retailer(start.org_id)
        timeline = [
            self.timeline.entry(S.AWAITING_UNIT, E.CREATED, retailer, {"fault": start.fault})
        ]
        if self.center is None:
            self.status = S.UNROUTABLE
            detail = {"category": start.unit.category, "reason": "no_center_fits"}
            timeline.append(self.timeline.entry(S.UNROUTABLE, E.UNROUTABLE, SYSTEM, detail))
        else:
            detail = {"center": self.center.org_id}
            timeline.append(self.timeline.entry(S.AWAITING_UNIT, E.ROUTED, SYSTEM, detail))
            if start.unit_origin is None:
                # A parent case delivered the unit to the center already.
                self.status = S.RECEIVED
                self.sla.received_at = workflow.now()
                timeline.append(self.timeline.entry(S.RECEIVED, E.RECEIVED, SYSTEM))
        recorded = await self.case.record(
            new_case(
                start,
                CaseKind.REPAIR,
                start.repair_id,
                status=self.status,
                coverage=start.coverage.value,
                reason="unroutable" if self.status is S.UNROUTABLE else None,
                receiving_org_id=self.center.org_id if self.center else None,
                items=one_unit(unit.sku, unit.serial, unit.unit_price, "repair", start.fault),
                data=self._facts(start.customer.first_name).to_data(),
                links={"rma_id": start.rma_id} if start.rma_id else {},
                timeline=timeline,
            )
        )
        if recorded and self.status is S.AWAITING_UNIT and start.unit_origin is not None:
            assert self.center is not None
            self.inbound, label = await self.shipper.ship_then(
                self.timeline,
                Direction.INBOUND,
                named(start.unit_origin, start.customer.name),
                named(self.center.address, self.center.name),
                "inbound-shipment",
                "return_label",
                functools.partial(self._transition, S.AWAITING_UNIT, E.LABEL_CREATED, SYSTEM),
                local=False,  # the create call is answered already: it must not wait for it
            )
            self.documents += label

    async def _step(self, start: repair.RepairStart) -> None:
        """Wait for what moves the job on from its current state, and apply it."""
        if self.status is S.AWAITING_APPROVAL:
            assert self.quote is not None
            if not await self._wait_for(lambda: not self.commands.empty, self.quote.expires_at):
                # No answer within `quote_valid_for`: declined.
                self._quote_answered("expired")
                await self._ship_back(start, E.QUOTE_EXPIRED, SYSTEM)
                return
        elif self.status in (S.READY_TO_SHIP, S.SHIPPED):
            await self._wait_for(lambda: not self.commands.empty or self.delivered, None)
            if self.commands.empty:
                return  # the scans moved it on
        else:
            await self._wait_for(lambda: not self.commands.empty, None)
        await self.commands.apply(functools.partial(self._apply, start))

    async def _apply(self, start: repair.RepairStart, command: repair.RepairCommand) -> None:
        match command:
            case repair.RepairCancel():
                await self._cancel(command)
            case repair.StatusChange():
                await self._report(command)
            case repair.Diagnosis():
                await self._diagnose(start, command)
            case repair.QuoteDecision(approve=True):
                self._quote_answered("approved")
                await self._start_work(command.actor, E.QUOTE_APPROVED)
            case repair.QuoteDecision():
                self._quote_answered("declined")
                await self._ship_back(start, E.QUOTE_DECLINED, command.actor)
            case repair.QaReport():
                await self._quality_check(start, command)

    async def _report(self, change: repair.StatusChange) -> None:
        detail = {"note": change.note} if change.note else {}
        if change.status is S.RECEIVED:
            self.sla.received_at = workflow.now()
            await self._transition(S.RECEIVED, E.RECEIVED, change.actor, detail)
        elif change.status is S.REPAIRING:
            await self._transition(S.REPAIRING, E.PARTS_RECEIVED, change.actor, detail)
        else:
            await self._transition(change.status, E(change.status.value), change.actor, detail)

    async def _diagnose(self, start: repair.RepairStart, diagnosis: repair.Diagnosis) -> None:
        """Not repairable: beyond repair. Paid coverage: a quote awaits the customer.
        Otherwise on to the work."""
        self.diagnosis = diagnosis
        detail = repair.diagnosis_detail(diagnosis)
        if not diagnosis.repairable:
            await self._beyond_repair(diagnosis.actor, "not_repairable", detail)
            return
        if repair.needs_quote(start.coverage):
            expires_at = workflow.now() + start.policy.quote_valid_for
            # In the case's own minor units: the quote is kept and answered (`RepairView`),
            # so a case recorded in hundredths replays its hundredths (the patch).
            currency = rounding_currency(start.policy.currency)
            self.quote = repair.PendingQuote.offer(
                diagnosis, self._labor_rate(), expires_at, currency
            )
            self.sla.pause(workflow.now())
            detail |= self.quote.detail(start.policy.currency)
            await self._transition(S.AWAITING_APPROVAL, E.QUOTED, diagnosis.actor, detail)
            return
        async with self.timeline.together():
            await self._transition(S.DIAGNOSING, E.DIAGNOSED, diagnosis.actor, detail)
            await self._start_work(diagnosis.actor, E.COVERED)

    def _quote_answered(self, outcome: str) -> None:
        """The customer answered the quote (or let it expire): the SLA clock runs again."""
        assert self.quote is not None
        self.quote.outcome = outcome
        self.sla.resume(workflow.now())

    async def _start_work(self, actor: Actor, event: E) -> None:
        """Parts first if the diagnosis listed any, else straight to the bench."""
        assert self.diagnosis is not None
        if self.diagnosis.parts:
            detail = {"parts": repair.parts_list(self.diagnosis.parts)}
            await self._transition(S.AWAITING_PARTS, event, actor, detail)
        else:
            await self._transition(S.REPAIRING, event, actor)

    async def _quality_check(self, start: repair.RepairStart, report: repair.QaReport) -> None:
        """Pass: certificate and return parcel. Fail: back to repairing; again: beyond repair."""
        detail = {"notes": report.notes} if report.notes else {}
        if report.passed:
            self.repaired = True
            assert self.center is not None and self.diagnosis is not None
            # The pass, its certificate, the return label and `ready_to_ship` are stored in
            # one step once the parcel is booked; before the batched steps, in three.
            batch = batched()
            with self.timeline.collecting(hold=batch) as passed:
                await self._transition(S.QUALITY_CHECK, E.QA_PASSED, report.actor, detail)
            certificate = repair.repair_certificate(
                start, self.center.name, self.diagnosis, report.notes, workflow.now()
            )
            if batch:
                issued = [self.certificates.repair_request(certificate)]
                await self._ship_back(start, E.READY_TO_SHIP, SYSTEM, passed, issued)
            else:
                self.documents.append(await self.certificates.repair(certificate))
                await self._ship_back(start, E.READY_TO_SHIP, SYSTEM)
            return
        self.qa_failures += 1
        detail["failures"] = str(self.qa_failures)
        if self.qa_failures > repair.QA_FAILURES_ALLOWED:
            await self._beyond_repair(report.actor, "qa_failed_twice", detail)
        else:
            await self._transition(S.REPAIRING, E.QA_FAILED, report.actor, detail)

    async def _beyond_repair(self, actor: Actor, reason: str, detail: dict[str, str]) -> None:
        """Terminal for the repair; the customer gets a new unit. A parent RMA starts that
        replacement itself (it owns the customer's outcome); a direct job starts it here."""
        start = self.start
        links: dict[str, str] = {}
        if start.rma_id is None:
            replacement = replacement_from_repair(start)
            await start_replacement(replacement)
            links["replacement_id"] = replacement.replacement_id
            detail = {**detail, "replacement_id": replacement.replacement_id}
        detail = {**detail, "reason": reason}
        await self._transition(S.BEYOND_REPAIR, E.BEYOND_REPAIR, actor, detail, links)

    async def _cancel(self, request: repair.RepairCancel) -> None:
        if self.inbound is not None and not self.inbound_scanned:
            await void(self.inbound)
        self.sla.resume(workflow.now())
        detail = {"reason": request.reason} if request.reason else {}
        if self.sla.received_at is not None:
            detail["unit"] = "held_at_center"
        await self._transition(S.CANCELLED, E.CANCELLED, request.actor, detail)

    async def _ship_back(
        self,
        start: repair.RepairStart,
        event: E,
        actor: Actor,
        before: Sequence[CaseProjection] = (),
        certificates: Sequence[RepairCertificateRequest] = (),
    ) -> None:
        """Book the parcel from the center to the customer and move to `ready_to_ship`;
        `before` and `certificates` are stored with the label (`Shipper.ship_then`)."""
        assert self.center is not None and start.customer.address is not None

        async def ready(detail: dict[str, str]) -> None:
            self.sla.ready_at = workflow.now()
            await self._check_sla()
            await self._transition(S.READY_TO_SHIP, event, actor, detail)

        self.outbound, label = await self.shipper.ship_then(
            self.timeline,
            Direction.OUTBOUND,
            named(self.center.address, self.center.name),
            named(start.customer.address, start.customer.name),
            "return-shipment",
            "shipping_label",
            ready,
            before=before,
            certificates=certificates,
        )
        self.documents += label

    # --------------------------------------------------------------------- SLA

    async def _check_sla(self) -> None:
        """Flag a breach once: the job is not ready by its due time (pauses excluded)."""
        due = self.sla.breach(self.status, workflow.now())
        if due is not None:
            detail = {"sla_due_at": due.isoformat()}
            await self._transition(self.status, E.SLA_BREACHED, SYSTEM, detail)

    # ------------------------------------------------------------ waiting, scans

    async def _wait_for(self, ready: Callable[[], bool], deadline: datetime | None) -> bool:
        """Wait until `ready()` or the deadline, applying scans and the SLA clock meanwhile."""
        return await self.scans.wait_for(
            ready,
            deadline,
            self._apply_scan,
            tick=self._check_sla,
            alarm=lambda: self.sla.alarm(self.status, workflow.now()),
        )

    async def _apply_scan(self, scan: CarrierEvent) -> None:
        """Scans of the unit's way in are noted; those of its way back move `ready_to_ship`
        → `shipped` → `completed` (or `returned_unrepaired`) on delivery."""
        back = self.outbound is not None and scan.tracking_number == self.outbound.tracking_number
        status = self.status
        if self.inbound and scan.tracking_number == self.inbound.tracking_number:
            self.inbound_scanned = self.inbound_scanned or scan.status in MOVEMENT_SCANS
        elif back and status is S.READY_TO_SHIP and scan.status in MOVEMENT_SCANS:
            status = S.SHIPPED
        async with self.timeline.together():
            await self._transition(status, scan_event(scan), CARRIER, scan_detail(scan))
            if back and scan.status is CarrierStatus.DELIVERED and self.status is S.SHIPPED:
                self.delivered = True
                final = S.COMPLETED if self.repaired else S.RETURNED_UNREPAIRED
                await self._transition(final, E(final.value), CARRIER)

    # ---------------------------------------------------------------- messages

    @workflow.update(name=repair.ACCEPT_UPDATE)
    async def accept(self) -> repair.RepairView:
        """The create call's answer: the job as routed and recorded."""
        await self.case.first_answer()
        return self.view()

    @workflow.update(name=repair.STATUS_UPDATE)
    async def report_status(self, change: repair.StatusChange) -> repair.RepairView:
        await self.commands.hand_over(change)
        return self.view()

    @report_status.validator
    def _validate_status(self, change: repair.StatusChange) -> None:
        expected = repair.REPORTABLE_FROM.get(change.status)
        self._require(change.status.value, change.status, expected is self.status)

    @workflow.update(name=repair.DIAGNOSIS_UPDATE)
    async def diagnose(self, diagnosis: repair.Diagnosis) -> repair.RepairView:
        await self.commands.hand_over(diagnosis)
        return self.view()

    @diagnose.validator
    def _validate_diagnosis(self, diagnosis: repair.Diagnosis) -> None:
        self._require("diagnosis", None, self.status is S.DIAGNOSING)
        try:
            # Validation only (the same refusals in every currency): no patch to ask here.
            currency = self.start.policy.currency
            repair.quote(diagnosis.parts, diagnosis.labor_minutes, self._labor_rate(), currency)
        except ValueError as exc:
            raise refusal("validation_error", str(exc)) from exc

    @workflow.update(name=repair.QUOTE_UPDATE)
    async def decide_quote(self, decision: repair.QuoteDecision) -> repair.RepairView:
        await self.commands.hand_over(decision)
        return self.view()

    @decide_quote.validator
    def _validate_quote(self, decision: repair.QuoteDecision) -> None:
        action = "approve" if decision.approve else "decline"
        target = S.REPAIRING if decision.approve else S.READY_TO_SHIP
        self._require(action, target, repair.quote_open(self.status, self.quote))

    @workflow.update(name=repair.QA_UPDATE)
    async def report_qa(self, report: repair.QaReport) -> repair.RepairView:
        await self.commands.hand_over(report)
        return self.view()

    @report_qa.validator
    def _validate_qa(self, report: repair.QaReport) -> None:
        self._require("qa", None, self.status is S.QUALITY_CHECK)

    @workflow.update(name=repair.REPAIR_CANCEL_UPDATE)
    async def cancel(self, request: repair.RepairCancel) -> repair.RepairView:
        await self.commands.hand_over(request)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: repair.RepairCancel) -> None:
        allowed = repair.may_cancel(self.status, self.inbound_scanned, self.quote)
        self._require("cancel", S.CANCELLED, allowed)

    @workflow.query(name=CURRENT_QUERY)
    def current(self) -> repair.RepairView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> repair.RepairView:
        return repair.RepairView(
            repair_id=self.start.repair_id,
            status=self.status,
            assigned_center=self.center.org_id if self.center else None,
            quote=self.quote.quote if self.quote else None,
            quote_expires_at=self.quote.expires_at if self.quote else None,
            sla_breached=self.sla.breached,
        )

    def _labor_rate(self) -> Decimal:
        return self.center.labor_rate if self.center else Decimal(0)

    def _require(self, action: str, target: S | None, state_allows: bool) -> None:
        """Refuse before anything reaches history: wrong state, a command already in
        flight, or a target the transition table does not allow from here."""
        allowed = target is None or repair.can_transition(self.status, target)
        if not (self.case.recorded and self.commands.empty and state_allows and allowed):
            raise invalid_transition(action, self.status.value, repair.allowed_next(self.status))

    def _facts(self, customer_first_name: str = "") -> facts.RepairFacts:
        """The job's facts for the read model: the API computes `sla_due_at` from these."""
        return facts.repair_facts(
            self.start,
            center=self.center,
            diagnosis=self.diagnosis,
            quote=self.quote,
            qa_failures=self.qa_failures,
            sla=self.sla,
            customer_first_name=customer_first_name,
        )

    async def _transition(
        self, status: S, event: E, actor: Actor, detail: Detail = None, links: Detail = None
    ) -> None:
        self.status = status
        fields, data = {"reason": repair.reason_of(status, detail)}, self._facts().to_data()
        await self.timeline.project(
            status, event, actor, detail, fields=fields, data=data, links=links
        )
