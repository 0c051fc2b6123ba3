"""The relocation workflow (lifecycles.md §4): uninstall, transport, reinstall and commission
installed equipment, with appointments, reminders, customer reschedules and a certificate.

One main loop owns every transition: update handlers validate and hand their command over
(one `CommandSlot`, one command at a time); the loop applies it, reminds 24 hours before each
appointment and applies the transport's carrier scans while it waits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import StoreActivities
    from domain import relocation
    from domain.appointments import failed_items, reschedule_detail, visit_detail
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
    from domain.contracts.facts import RelocatedAsset, RelocationFacts
    from domain.contracts.store import MoveAsset, PlanLookup
    from domain.service_plan import ASSET_MOVED_SIGNAL, AssetMoved
    from workflows.appointments import Visits
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT, invalid_transition
    from workflows.carrier_errors import CarrierErrors
    from workflows.carrier_scans import MOVEMENT_SCANS, CarrierScans, ScannedCase, scan_detail
    from workflows.certificates import Certificates
    from workflows.commands import CommandSlot
    from workflows.patches import PLAN_FOLLOWS_ASSET_PATCH, patched
    from workflows.recording import CaseRecord, new_case, one_unit
    from workflows.shipping import Shipper, named, void
    from workflows.timeline import Timeline

R = relocation.RelocationStatus
# What a stage's report records when it is done.
DONE_EVENT = {
    relocation.Stage.UNINSTALL: E.UNINSTALLED,
    relocation.Stage.REINSTALL: E.REINSTALLED,
}


@workflow.defn(name=relocation.RELOCATION_WORKFLOW)
class RelocationWorkflow(ScannedCase):
    @workflow.init
    def __init__(self, start: relocation.RelocationStart) -> None:
        self.start = start
        self.timeline = Timeline(start.relocation_id)
        # A booking the carrier refuses waits for the retailer's retry (`retry_shipping`).
        self.shipper = Shipper.for_case(
            start, start.relocation_id, CarrierErrors(self.timeline, lambda: self.status)
        )
        self.certificates = Certificates(start.org_id, start.relocation_id, start.public_base_url)
        self.status = R.SCHEDULING_UNINSTALL
        self.case = CaseRecord()
        self.commands: CommandSlot[relocation.RelocationCommand] = CommandSlot()
        self.scans = CarrierScans()
        self.documents: list[DocumentRef] = []
        self.transport: ShipmentRef | None = None
        self.transport_moved = False
        self.visits: Visits[relocation.Appointment] = Visits()
        # By stage ("uninstall", "reinstall", "commissioning"): its checklist, and the day
        # it was done (also "delivered"), for the certificate.
        self.checklists: dict[str, list[relocation.ChecklistItem]] = {}
        self.dates: dict[str, datetime] = {}

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: relocation.RelocationStart) -> relocation.RelocationResult:
        await self.case.record(
            new_case(
                start,
                CaseKind.RELOCATION,
                start.relocation_id,
                status=self.status,
                receiving_org_id=start.provider_org_id,
                items=one_unit(start.sku, start.serial, Decimal(0), "relocation"),
                data=self._facts().to_data(),
                timeline=[
                    self.timeline.entry(
                        self.status,
                        E.CREATED,
                        Actor.retailer(start.org_id),
                        {"provider": start.provider_org_id},
                    )
                ],
            )
        )
        await self.case.fail_if_refused()
        while self.status not in relocation.TERMINAL_RELOCATION_STATUSES:
            # An accepted command goes before scans still queued: its validator judged the
            # state without them (a cancel accepted before the pick-up must not land on the
            # road).
            await self.scans.wait_for(
                lambda: not self.commands.empty,
                None,
                self._apply_scan,
                tick=self._remind,
                alarm=self.visits.reminder_at,
                commands_first=True,
            )
            await self.commands.apply(self._apply)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return relocation.RelocationResult(
            relocation_id=start.relocation_id,
            status=self.status,
            documents=self.documents,
            shipments=[self.transport] if self.transport else [],
        )

    async def _apply(self, command: relocation.RelocationCommand) -> None:
        match command:
            case relocation.BookAppointment():
                await self._book(command)
            case relocation.RescheduleRequest():
                await self._reschedule(command)
            case relocation.StageReport():
                await self._report(command)
            case relocation.Commissioning():
                await self._commission(command)
            case relocation.RelocationCancel():
                await self._cancel(command)

    async def _book(self, booking: relocation.BookAppointment) -> None:
        self.visits.book(
            relocation.Appointment(booking.stage, booking.starts_at, booking.technician),
            booking.technician,
        )
        await self._transition(
            relocation.SCHEDULED[booking.stage],
            E.APPOINTMENT_BOOKED,
            booking.actor,
            visit_detail(booking.stage.value, booking.starts_at, booking.technician),
        )

    async def _reschedule(self, request: relocation.RescheduleRequest) -> None:
        used = self.visits.reschedule()
        detail = reschedule_detail(request.stage.value, used, request.preferred_after)
        await self._transition(
            relocation.SCHEDULING[request.stage], E.RESCHEDULE_REQUESTED, Actor.customer(), detail
        )

    async def _report(self, report: relocation.StageReport) -> None:
        visit = self.visits.end()
        stage = visit.stage
        if report.outcome is relocation.StageOutcome.MISSED:
            missed = visit
            await self._transition(
                relocation.SCHEDULING[stage],
                E.APPOINTMENT_MISSED,
                report.actor,
                visit_detail(stage.value, missed.starts_at),
            )
            return
        self.checklists[stage.value] = report.checklist
        self.dates[stage.value] = workflow.now()
        await self._transition(
            relocation.DONE[stage], DONE_EVENT[stage], report.actor, report.summary()
        )
        if stage is relocation.Stage.UNINSTALL:
            await self._book_transport()

    async def _book_transport(self) -> None:
        start = self.start
        self.transport, label = await self.shipper.ship(
            Direction.OUTBOUND,
            named(start.from_site, start.customer.name),
            named(start.to_site, start.customer.name),
            "transport",
            "shipping_label",
        )
        self.documents.append(label)
        await self._transition(
            R.UNINSTALLED,
            E.TRANSPORT_BOOKED,
            Actor.system(),
            {"tracking_number": self.transport.tracking_number},
        )

    async def _apply_scan(self, scan: CarrierEvent) -> None:
        ours = self.transport and scan.tracking_number == self.transport.tracking_number
        status = self.status
        if ours and scan.status in MOVEMENT_SCANS:
            self.transport_moved = True
            if status is R.UNINSTALLED:
                status = R.IN_TRANSIT
        await self._transition(status, E.carrier(scan.status), Actor.carrier(), scan_detail(scan))
        if ours and scan.status is CarrierStatus.DELIVERED and self.status is R.IN_TRANSIT:
            self.dates[relocation.DELIVERED] = workflow.now()
            await self._transition(R.DELIVERED, E.DELIVERED, Actor.carrier())

    async def _commission(self, commissioning: relocation.Commissioning) -> None:
        """All items passed: certificate, the asset's new site, the plan follows. A failed
        item keeps the case reinstalled until a new commissioning passes."""
        start = self.start
        failed = failed_items(commissioning.checklist)
        if failed:
            await self._transition(
                R.REINSTALLED,
                E.COMMISSIONING_FAILED,
                commissioning.actor,
                {"failed": ", ".join(failed)},
            )
            return
        self.checklists[relocation.COMMISSIONING] = commissioning.checklist
        self.dates[relocation.COMMISSIONING] = workflow.now()
        self.documents.append(
            await self.certificates.relocation(
                relocation.relocation_certificate(
                    start, self.visits.technician, self.checklists, self.dates
                )
            )
        )
        await workflow.execute_local_activity_method(
            StoreActivities.move_asset,
            MoveAsset(asset_id=start.asset_id, site=start.to_site, case_id=start.relocation_id),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        plan_id = None
        if patched(PLAN_FOLLOWS_ASSET_PATCH):
            plan_id = await self._move_plan()
        await self._transition(
            R.COMPLETED,
            E.COMMISSIONED,
            commissioning.actor,
            {"service_plan_id": plan_id} if plan_id else None,
            links={"service_plan_id": plan_id} if plan_id else None,
        )

    async def _move_plan(self) -> str | None:
        """An open service plan on the serial follows the unit to its new site. A plan that
        closes in between simply does not hear of it."""
        start = self.start
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

    async def _cancel(self, request: relocation.RelocationCancel) -> None:
        if self.transport is not None and not self.transport_moved:
            await void(self.transport)
        self.visits.clear()
        detail = {"reason": request.reason} if request.reason else {}
        await self._transition(R.CANCELLED, E.CANCELLED, request.actor, detail)

    # -------------------------------------------------------------------- reminders

    async def _remind(self) -> None:
        due = self.visits.due_reminder()
        if due is None:
            return
        await self._transition(
            self.status,
            E.APPOINTMENT_REMINDER,
            Actor.system(),
            visit_detail(due.stage.value, due.starts_at),
        )

    # ---------------------------------------------------------------- messages

    @workflow.update(name=relocation.RELOCATION_ACCEPT_UPDATE)
    async def accept(self) -> relocation.RelocationView:
        await self.case.first_answer()
        return self.view()

    @workflow.update(name=relocation.BOOK_UPDATE)
    async def book_appointment(
        self, request: relocation.BookAppointment
    ) -> relocation.RelocationView:
        await self.commands.hand_over(request)
        return self.view()

    @book_appointment.validator
    def _validate_booking(self, request: relocation.BookAppointment) -> None:
        stage = request.stage
        self._require(
            f"book_{stage.value}",
            self.status in (relocation.SCHEDULING[stage], relocation.SCHEDULED[stage]),
        )

    @workflow.update(name=relocation.STAGE_UPDATE)
    async def report_stage(self, report: relocation.StageReport) -> relocation.RelocationView:
        await self.commands.hand_over(report)
        return self.view()

    @report_stage.validator
    def _validate_report(self, report: relocation.StageReport) -> None:
        if report.outcome is relocation.StageOutcome.MISSED:
            allowed = self.status in relocation.SCHEDULED.values()
        else:
            allowed = any(
                self.status is relocation.SCHEDULED[stage]
                and report.outcome.value == relocation.DONE[stage].value
                for stage in relocation.Stage
            )
        self._require(report.outcome.value, allowed)

    @workflow.update(name=relocation.COMMISSION_UPDATE)
    async def commission(
        self, commissioning: relocation.Commissioning
    ) -> relocation.RelocationView:
        await self.commands.hand_over(commissioning)
        return self.view()

    @commission.validator
    def _validate_commission(self, commissioning: relocation.Commissioning) -> None:
        self._require(relocation.COMMISSIONING, self.status is R.REINSTALLED)

    @workflow.update(name=relocation.RESCHEDULE_UPDATE)
    async def reschedule(self, request: relocation.RescheduleRequest) -> relocation.RelocationView:
        await self.commands.hand_over(request)
        return self.view()

    @reschedule.validator
    def _validate_reschedule(self, request: relocation.RescheduleRequest) -> None:
        self._require(
            f"reschedule_{request.stage.value}", self.status is relocation.SCHEDULED[request.stage]
        )
        self.visits.refuse_reschedule(self.start.policy.max_reschedules)

    @workflow.update(name=relocation.RELOCATION_CANCEL_UPDATE)
    async def cancel(self, request: relocation.RelocationCancel) -> relocation.RelocationView:
        await self.commands.hand_over(request)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: relocation.RelocationCancel) -> None:
        self._require("cancel", self.status in relocation.CANCELLABLE and not self.transport_moved)

    @workflow.query(name=CURRENT_QUERY)
    def current(self) -> relocation.RelocationView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> relocation.RelocationView:
        return relocation.RelocationView(
            relocation_id=self.start.relocation_id,
            status=self.status,
            appointment=self.visits.appointment,
            reschedules_used=self.visits.reschedules_used,
        )

    def _require(self, action: str, allowed: bool) -> None:
        if not (self.case.recorded and self.commands.empty and allowed):
            raise invalid_transition(
                action, self.status.value, relocation.allowed_actions(self.status)
            )

    def _facts(self) -> RelocationFacts:
        start = self.start
        return RelocationFacts(
            asset_id=start.asset_id,
            asset=RelocatedAsset(start.sku, start.serial, start.product_name),
            provider_org_id=start.provider_org_id,
            from_site=start.from_site,
            to_site=start.to_site,
            appointment=self.visits.appointment,
            reschedules_used=self.visits.reschedules_used,
            max_reschedules=start.policy.max_reschedules,
            checklists={stage: tuple(items) for stage, items in self.checklists.items()},
        )

    async def _transition(
        self,
        status: R,
        event: E,
        actor: Actor,
        detail: dict[str, str] | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        await self.timeline.project(
            status, event, actor, detail, data=self._facts().to_data(), links=links
        )
