"""The relocation workflow (lifecycles.md §4): uninstall, transport, reinstall and commission
installed equipment, with appointments, reminders, customer reschedules and a certificate.

As in the other workflows, one main loop owns every transition: update handlers validate,
hand the command over and wait until it has been applied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import CarrierActivities, DocumentActivities, StoreActivities
    from domain.common import CarrierEvent, CarrierStatus, Direction, DocumentRef, ShipmentRef
    from domain.contracts.carrier import VoidShipment
    from domain.contracts.documents import RelocationCertificateRequest
    from domain.contracts.store import CaseItemRecord, MoveAsset, NewCase, PlanLookup
    from domain.documents import ChecklistLine, RelocationCertificateData
    from domain.ids import child_case_id, step_key
    from domain.relocation import (
        BOOK_UPDATE,
        CANCELLABLE,
        COMMISSION_UPDATE,
        DONE,
        RELOCATION_ACCEPT_UPDATE,
        RELOCATION_CANCEL_UPDATE,
        RELOCATION_WORKFLOW,
        REMINDER_BEFORE,
        RESCHEDULE_LIMIT_REACHED,
        RESCHEDULE_UPDATE,
        SCHEDULED,
        SCHEDULING,
        STAGE_UPDATE,
        TERMINAL_RELOCATION_STATUSES,
        Appointment,
        BookAppointment,
        ChecklistItem,
        Commissioning,
        RelocationCancel,
        RelocationResult,
        RelocationStart,
        RelocationStatus,
        RelocationView,
        RescheduleRequest,
        Stage,
        StageOutcome,
        StageReport,
        allowed_actions,
    )
    from domain.rma import Actor
    from domain.service_plan import ASSET_MOVED_SIGNAL, AssetMoved
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

R = RelocationStatus
SYSTEM = Actor("system")
CARRIER = Actor("carrier")
CUSTOMER = Actor("customer")
MOVEMENT_SCANS = frozenset(
    {
        CarrierStatus.PICKED_UP,
        CarrierStatus.IN_TRANSIT,
        CarrierStatus.OUT_FOR_DELIVERY,
        CarrierStatus.DELIVERED,
    }
)
Command = BookAppointment | StageReport | Commissioning | RescheduleRequest | RelocationCancel


@workflow.defn(name=RELOCATION_WORKFLOW)
class RelocationWorkflow:
    def __init__(self) -> None:
        self.start: RelocationStart | None = None
        self.timeline = Timeline("")
        self.status = R.SCHEDULING_UNINSTALL
        self.recorded = False
        # Why the case could not be stored, when its data is refused for good.
        self.unrecordable: str | None = None
        self.documents: list[DocumentRef] = []
        self.transport: ShipmentRef | None = None
        self.transport_moved = False
        self.scans: list[CarrierEvent] = []
        self.seen_events: set[str] = set()
        self.appointment: Appointment | None = None
        self.reminded = False
        self.reschedules_used = 0
        self.technician = ""
        self.checklists: dict[str, list[ChecklistItem]] = {}
        self.dates: dict[str, datetime] = {}
        self.pending: Command | None = None

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: RelocationStart) -> RelocationResult:
        self.start = start
        self.timeline = Timeline(start.relocation_id)
        await self._record(start)
        if self.unrecordable is not None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise unrecordable(self.unrecordable)
        while self.status not in TERMINAL_RELOCATION_STATUSES:
            await self._wait_for(lambda: self.pending is not None)
            command = self.pending
            assert command is not None
            try:
                await self._apply(start, command)
            finally:
                self.pending = None
        await workflow.wait_condition(workflow.all_handlers_finished)
        return RelocationResult(
            relocation_id=start.relocation_id,
            status=self.status,
            documents=self.documents,
            shipments=[self.transport] if self.transport else [],
        )

    async def _apply(self, start: RelocationStart, command: Command) -> None:
        if isinstance(command, BookAppointment):
            self.appointment = Appointment(command.stage, command.starts_at, command.technician)
            self.technician = command.technician
            self.reminded = False
            await self._transition(
                SCHEDULED[command.stage],
                "appointment_booked",
                command.actor,
                {
                    "stage": command.stage.value,
                    "starts_at": command.starts_at.isoformat(),
                    "technician": command.technician,
                },
            )
        elif isinstance(command, RescheduleRequest):
            self.reschedules_used += 1
            self.appointment = None
            detail = {"stage": command.stage.value, "reschedules": str(self.reschedules_used)}
            if command.preferred_after:
                detail["preferred_after"] = command.preferred_after.isoformat()
            await self._transition(
                SCHEDULING[command.stage], "reschedule_requested", CUSTOMER, detail
            )
        elif isinstance(command, StageReport):
            await self._report(start, command)
        elif isinstance(command, Commissioning):
            await self._commission(start, command)
        else:
            await self._cancel(command)

    async def _report(self, start: RelocationStart, report: StageReport) -> None:
        assert self.appointment is not None
        stage = self.appointment.stage
        if report.outcome is StageOutcome.MISSED:
            missed = self.appointment
            self.appointment = None
            await self._transition(
                SCHEDULING[stage],
                "appointment_missed",
                report.actor,
                {"stage": stage.value, "starts_at": missed.starts_at.isoformat()},
            )
            return
        self.checklists[stage.value] = report.checklist
        self.dates[stage.value] = workflow.now()
        self.appointment = None
        await self._transition(DONE[stage], DONE[stage].value, report.actor, _summary(report))
        if stage is Stage.UNINSTALL:
            await self._book_transport(start)

    async def _book_transport(self, start: RelocationStart) -> None:
        self.transport, label = await book_with_label(
            Parcel(
                org_id=start.org_id,
                case_id=start.relocation_id,
                tracking_url=f"{start.public_base_url}/track/{start.tracking_token}",
                direction=Direction.OUTBOUND,
                origin=named(start.from_site, start.customer.name),
                destination=named(start.to_site, start.customer.name),
                step="transport",
                label_kind="shipping_label",
            )
        )
        self.documents.append(label)
        await self._transition(
            R.UNINSTALLED,
            "transport_booked",
            SYSTEM,
            {"tracking_number": self.transport.tracking_number},
        )

    async def _commission(self, start: RelocationStart, commissioning: Commissioning) -> None:
        failed = [c.item for c in commissioning.checklist if not c.passed]
        if failed:
            await self._transition(
                R.REINSTALLED,
                "commissioning_failed",
                commissioning.actor,
                {"failed": ", ".join(failed)},
            )
            return
        self.checklists["commissioning"] = commissioning.checklist
        self.dates["commissioning"] = workflow.now()
        await self._issue_certificate(start)
        await workflow.execute_local_activity_method(
            StoreActivities.move_asset,
            MoveAsset(asset_id=start.asset_id, site=start.to_site, case_id=start.relocation_id),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        plan_id = None
        if workflow.patched("plan-follows-asset"):
            plan_id = await self._move_plan(start)
        await self._transition(
            R.COMPLETED,
            "commissioned",
            commissioning.actor,
            {"service_plan_id": plan_id} if plan_id else None,
            links={"service_plan_id": plan_id} if plan_id else None,
        )

    async def _move_plan(self, start: RelocationStart) -> str | None:
        """An open service plan on the serial follows the unit to its new site. A plan that
        closes in between simply does not hear of it."""
        found = await workflow.execute_local_activity_method(
            StoreActivities.open_plan_of,
            PlanLookup(start.org_id, start.serial),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        if found.workflow_id is None:
            return None
        try:
            await workflow.get_external_workflow_handle(found.workflow_id).signal(
                ASSET_MOVED_SIGNAL,
                AssetMoved(site=start.to_site, relocation_id=start.relocation_id),
            )
        except FailureError:
            workflow.logger.info("plan %s closed before the relocation ended", found.plan_id)
            return None
        return found.plan_id

    async def _issue_certificate(self, start: RelocationStart) -> None:
        def lines(stage: str) -> list[ChecklistLine]:
            return [ChecklistLine(c.item, c.passed, c.note) for c in self.checklists.get(stage, [])]

        def day(stage: str) -> str:
            moment = self.dates.get(stage)
            return f"{moment.day} {moment:%B %Y}" if moment else ""

        certificate = await workflow.execute_local_activity_method(
            DocumentActivities.render_relocation_certificate,
            RelocationCertificateRequest(
                idempotency_key=step_key(workflow.info().workflow_id, "relocation-certificate"),
                org_id=start.org_id,
                case_id=start.relocation_id,
                public_base_url=start.public_base_url,
                certificate=RelocationCertificateData(
                    certificate_number=child_case_id(start.relocation_id, "RC"),
                    relocation_number=start.relocation_id,
                    retailer_name=start.org_name,
                    provider_name=start.provider_name,
                    customer_first_name=start.customer.first_name,
                    product_name=start.product_name,
                    sku=start.sku,
                    serial=start.serial,
                    from_site=start.from_site,
                    to_site=start.to_site,
                    technician=self.technician,
                    uninstalled_on=day(Stage.UNINSTALL.value),
                    delivered_on=day("delivered"),
                    commissioned_on=day("commissioning"),
                    uninstall_checklist=lines(Stage.UNINSTALL.value),
                    reinstall_checklist=lines(Stage.REINSTALL.value),
                    commissioning_checklist=lines("commissioning"),
                    verification_code="",
                    verify_url="",
                ),
            ),
            start_to_close_timeout=RENDER_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.documents.append(certificate)

    async def _cancel(self, request: RelocationCancel) -> None:
        if self.transport is not None and not self.transport_moved:
            await workflow.execute_activity_method(
                CarrierActivities.void_shipment,
                VoidShipment(self.transport.tracking_number),
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=EXTERNAL_RETRY,
            )
        self.appointment = None
        detail = {"reason": request.reason} if request.reason else {}
        await self._transition(R.CANCELLED, "cancelled", request.actor, detail)

    async def _record(self, start: RelocationStart) -> None:
        self.unrecordable = await record_new_case(
            NewCase(
                case_id=start.relocation_id,
                org_id=start.org_id,
                case_type="relocation",
                workflow_id=workflow.info().workflow_id,
                status=self.status.value,
                tracking_token=start.tracking_token,
                customer=start.customer,
                created_at=workflow.now(),
                currency=start.policy.currency,
                receiving_org_id=start.provider_org_id,
                items=[
                    CaseItemRecord(
                        sku=start.sku,
                        serial=start.serial,
                        quantity=1,
                        unit_price=Decimal(0),
                        reason="relocation",
                    )
                ],
                data={"customer_first_name": start.customer.first_name, **self._data()},
                timeline=[
                    self.timeline.entry(
                        self.status,
                        "created",
                        Actor("retailer", start.org_id),
                        {"provider": start.provider_org_id},
                    )
                ],
            ),
        )
        if self.unrecordable is not None:
            return
        self.recorded = True

    # ---------------------------------------------------- waiting, reminders, scans

    def _reminder_at(self) -> datetime | None:
        if self.appointment is None or self.reminded:
            return None
        return self.appointment.starts_at - REMINDER_BEFORE

    async def _remind(self) -> None:
        at = self._reminder_at()
        if at is None or workflow.now() < at:
            return
        assert self.appointment is not None
        self.reminded = True
        await self._transition(
            self.status,
            "appointment_reminder",
            SYSTEM,
            {
                "stage": self.appointment.stage.value,
                "starts_at": self.appointment.starts_at.isoformat(),
            },
        )

    async def _wait_for(self, ready: Callable[[], bool]) -> None:
        while True:
            await self._remind()
            # An accepted command goes before scans still queued: its validator judged the
            # state without them (a cancel accepted before the pick-up must not land on the
            # road).
            if ready():
                return
            await self._apply_scans()
            if ready():
                return
            wake = self._reminder_at()
            timeout = wake - workflow.now() if wake else None
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
            ours = self.transport and scan.tracking_number == self.transport.tracking_number
            status = self.status
            if ours and scan.status in MOVEMENT_SCANS:
                self.transport_moved = True
                if status is R.UNINSTALLED:
                    status = R.IN_TRANSIT
            await self._transition(status, event, CARRIER, detail)
            if ours and scan.status is CarrierStatus.DELIVERED and self.status is R.IN_TRANSIT:
                self.dates["delivered"] = workflow.now()
                await self._transition(R.DELIVERED, "delivered", CARRIER)

    # ---------------------------------------------------------------- messages

    @workflow.update(name=RELOCATION_ACCEPT_UPDATE)
    async def accept(self) -> RelocationView:
        await workflow.wait_condition(lambda: self.recorded or self.unrecordable is not None)
        if self.unrecordable is not None:
            raise unrecordable(self.unrecordable)
        return self.view()

    @workflow.update(name=BOOK_UPDATE)
    async def book_appointment(self, request: BookAppointment) -> RelocationView:
        return await self._handle(request)

    @book_appointment.validator
    def _validate_booking(self, request: BookAppointment) -> None:
        stage = request.stage
        self._require(f"book_{stage.value}", self.status in (SCHEDULING[stage], SCHEDULED[stage]))

    @workflow.update(name=STAGE_UPDATE)
    async def report_stage(self, report: StageReport) -> RelocationView:
        return await self._handle(report)

    @report_stage.validator
    def _validate_report(self, report: StageReport) -> None:
        if report.outcome is StageOutcome.MISSED:
            allowed = self.status in SCHEDULED.values()
        else:
            allowed = any(
                self.status is SCHEDULED[stage] and report.outcome.value == DONE[stage].value
                for stage in Stage
            )
        self._require(report.outcome.value, allowed)

    @workflow.update(name=COMMISSION_UPDATE)
    async def commission(self, commissioning: Commissioning) -> RelocationView:
        return await self._handle(commissioning)

    @commission.validator
    def _validate_commission(self, commissioning: Commissioning) -> None:
        self._require("commissioning", self.status is R.REINSTALLED)

    @workflow.update(name=RESCHEDULE_UPDATE)
    async def reschedule(self, request: RescheduleRequest) -> RelocationView:
        return await self._handle(request)

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleRequest) -> None:
        start = self._start()
        self._require(f"reschedule_{request.stage.value}", self.status is SCHEDULED[request.stage])
        if self.reschedules_used >= start.policy.max_reschedules:
            raise ApplicationError(
                f"the appointment was rescheduled {self.reschedules_used} times, the most "
                "this retailer allows",
                {"reschedules_used": self.reschedules_used},
                type=RESCHEDULE_LIMIT_REACHED,
                non_retryable=True,
            )

    @workflow.update(name=RELOCATION_CANCEL_UPDATE)
    async def cancel(self, request: RelocationCancel) -> RelocationView:
        return await self._handle(request)

    @cancel.validator
    def _validate_cancel(self, request: RelocationCancel) -> None:
        self._require("cancel", self.status in CANCELLABLE and not self.transport_moved)

    @workflow.signal
    def carrier_event(self, event: CarrierEvent) -> None:
        if event.event_id in self.seen_events:
            return
        self.seen_events.add(event.event_id)
        self.scans.append(event)

    @workflow.query
    def current(self) -> RelocationView:
        return self.view()

    async def _handle(self, command: Command) -> RelocationView:
        self.pending = command
        await workflow.wait_condition(lambda: self.pending is None)
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> RelocationView:
        return RelocationView(
            relocation_id=self._start().relocation_id,
            status=self.status,
            appointment=self.appointment,
            reschedules_used=self.reschedules_used,
        )

    def _start(self) -> RelocationStart:
        assert self.start is not None
        return self.start

    def _require(self, action: str, allowed: bool) -> None:
        if not (self.recorded and self.pending is None and allowed):
            raise invalid_transition(action, self.status.value, allowed_actions(self.status))

    def _data(self) -> dict[str, Any]:
        start = self._start()
        appointment = self.appointment
        return {
            "asset_id": start.asset_id,
            "asset": {"sku": start.sku, "serial": start.serial, "product_name": start.product_name},
            "provider_org_id": start.provider_org_id,
            "from_site": start.from_site.to_json(),
            "to_site": start.to_site.to_json(),
            "appointment": None
            if appointment is None
            else {
                "stage": appointment.stage.value,
                "starts_at": appointment.starts_at.isoformat(),
                "technician": appointment.technician,
            },
            "reschedules_used": self.reschedules_used,
            "max_reschedules": start.policy.max_reschedules,
            "checklists": {
                stage: [{"item": c.item, "passed": c.passed, "note": c.note} for c in items]
                for stage, items in self.checklists.items()
            },
        }

    async def _transition(
        self,
        status: RelocationStatus,
        event: str,
        actor: Actor,
        detail: dict[str, str] | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        await self.timeline.project(status, event, actor, detail, data=self._data(), links=links)


def _summary(report: StageReport) -> dict[str, str]:
    passed = sum(1 for c in report.checklist if c.passed)
    return {"checklist": f"{passed}/{len(report.checklist)} passed"}
