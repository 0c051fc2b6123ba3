"""The installation workflow (lifecycles.md §6): a first installation at the customer's site,
with an optional training session: one visit booked, reminded and rescheduled as a
relocation's are (`workflows.appointments`), a checklist when installed, and commissioning
that completes the case with an Installation Certificate and an asset at the site.

One main loop owns every transition: update handlers validate and hand their command over
(one `CommandSlot`, one command at a time); the loop applies it and reminds 24 hours before
the visit while it waits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import StoreActivities
    from domain import installation
    from domain.appointments import (
        ChecklistItem,
        Visit,
        checklist_summary,
        failed_items,
        reschedule_detail,
        visit_detail,
    )
    from domain.common import CURRENT_QUERY, Actor, CarrierEvent, CaseKind, DocumentRef
    from domain.contracts.events import CaseEvent as E
    from domain.contracts.facts import InstallationFacts, RelocatedAsset
    from domain.contracts.store import InstallAsset
    from workflows.appointments import Visits
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT, invalid_transition
    from workflows.carrier_scans import CarrierScans
    from workflows.certificates import Certificates
    from workflows.commands import CommandSlot
    from workflows.recording import CaseRecord, if_held, new_case, one_unit
    from workflows.timeline import Timeline

I = installation.InstallationStatus  # noqa: E741 - the lifecycle's states, as R is the relocation's


@workflow.defn(name=installation.INSTALLATION_WORKFLOW)
class InstallationWorkflow:
    @workflow.init
    def __init__(self, start: installation.InstallationStart) -> None:
        self.start = start
        self.timeline = Timeline(start.installation_id)
        self.certificates = Certificates(start.org_id, start.installation_id, start.public_base_url)
        self.status = I.SCHEDULING
        self.case = CaseRecord()
        self.commands: CommandSlot[installation.InstallationCommand] = CommandSlot()
        # An installation has no parcels: the kit's wait loop serves for its reminder alarm.
        self.waits = CarrierScans()
        self.visits: Visits[Visit] = Visits()
        self.documents: list[DocumentRef] = []
        self.asset_id: str | None = None
        self.training_given: bool | None = None
        # By step ("installation", "commissioning"): its checklist and the day it was done.
        self.checklists: dict[str, list[ChecklistItem]] = {}
        self.dates: dict[str, datetime] = {}

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, start: installation.InstallationStart) -> installation.InstallationResult:
        new = new_case(
            start,
            CaseKind.INSTALLATION,
            start.installation_id,
            status=self.status,
            receiving_org_id=start.provider_org_id,
            items=one_unit(start.sku, start.serial, Decimal(0), "installation"),
            data=self._facts().to_data(),
            timeline=[
                self.timeline.entry(
                    self.status,
                    E.CREATED,
                    Actor.retailer(start.org_id),
                    {"provider": start.provider_org_id, "training": str(start.training)},
                )
            ],
        )
        # One open case per unit, held by the database: the unit is claimed with the record,
        # and an order that loses the race to another open case is stored cancelled.
        lost = if_held(
            new,
            I.CANCELLED,
            installation.DUPLICATE_OPEN_CASE,
            E.CANCELLED,
            {"reason": installation.DUPLICATE_OPEN_CASE},
        )
        if await self.case.record_claiming(new, [start.serial], lost):
            self.status = I.CANCELLED
        await self.case.fail_if_refused()
        while self.status not in installation.TERMINAL_INSTALLATION_STATUSES:
            await self.waits.wait_for(
                lambda: not self.commands.empty,
                None,
                _no_scans,
                tick=self._remind,
                alarm=self.visits.reminder_at,
                commands_first=True,
            )
            await self.commands.apply(self._apply)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return installation.InstallationResult(
            installation_id=start.installation_id,
            status=self.status,
            documents=self.documents,
            asset_id=self.asset_id,
        )

    async def _apply(self, command: installation.InstallationCommand) -> None:
        match command:
            case installation.BookVisit():
                await self._book(command)
            case installation.InstallationReschedule():
                await self._reschedule(command)
            case installation.VisitReport():
                await self._report(command)
            case installation.InstallationCommissioning():
                await self._commission(command)
            case installation.InstallationCancel():
                await self._cancel(command)

    async def _book(self, booking: installation.BookVisit) -> None:
        self.visits.book(Visit(booking.starts_at, booking.technician), booking.technician)
        await self._transition(
            I.SCHEDULED,
            E.APPOINTMENT_BOOKED,
            booking.actor,
            visit_detail(installation.VISIT, booking.starts_at, booking.technician),
        )

    async def _reschedule(self, request: installation.InstallationReschedule) -> None:
        used = self.visits.reschedule()
        detail = reschedule_detail(installation.VISIT, used, request.preferred_after)
        await self._transition(I.SCHEDULING, E.RESCHEDULE_REQUESTED, Actor.customer(), detail)

    async def _report(self, report: installation.VisitReport) -> None:
        visit = self.visits.end()
        if report.outcome is installation.VisitOutcome.MISSED:
            await self._transition(
                I.SCHEDULING,
                E.APPOINTMENT_MISSED,
                report.actor,
                visit_detail(installation.VISIT, visit.starts_at),
            )
            return
        self.checklists[installation.INSTALLED] = report.checklist
        self.dates[installation.INSTALLED] = workflow.now()
        await self._transition(
            I.INSTALLED, E.INSTALLED, report.actor, checklist_summary(report.checklist)
        )

    async def _commission(self, commissioning: installation.InstallationCommissioning) -> None:
        """Every item passed: certificate, the asset at the site, completed. A failed item
        keeps the case installed until a new commissioning passes."""
        start = self.start
        failed = failed_items(commissioning.checklist)
        if failed:
            await self._transition(
                I.INSTALLED,
                E.COMMISSIONING_FAILED,
                commissioning.actor,
                {"failed": ", ".join(failed)},
            )
            return
        self.checklists[installation.COMMISSIONING] = commissioning.checklist
        self.dates[installation.COMMISSIONING] = workflow.now()
        self.training_given = commissioning.training_given
        self.documents.append(
            await self.certificates.installation(
                installation.installation_certificate(
                    start, self.visits.technician, self.checklists, self.dates, self.training_given
                )
            )
        )
        installed = await workflow.execute_local_activity_method(
            StoreActivities.install_asset,
            InstallAsset(
                org_id=start.org_id,
                sku=start.sku,
                serial=start.serial,
                site=start.site,
                case_id=start.installation_id,
            ),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.asset_id = installed.asset_id
        detail = {"asset_id": installed.asset_id}
        if start.training:
            detail["training_given"] = str(bool(self.training_given)).lower()
        await self._transition(I.COMPLETED, E.COMMISSIONED, commissioning.actor, detail)

    async def _cancel(self, request: installation.InstallationCancel) -> None:
        self.visits.clear()
        detail = {"reason": request.reason} if request.reason else {}
        await self._transition(I.CANCELLED, E.CANCELLED, request.actor, detail)

    # -------------------------------------------------------------------- reminders

    async def _remind(self) -> None:
        due = self.visits.due_reminder()
        if due is None:
            return
        await self._transition(
            self.status,
            E.APPOINTMENT_REMINDER,
            Actor.system(),
            visit_detail(installation.VISIT, due.starts_at),
        )

    # ---------------------------------------------------------------- messages

    @workflow.update(name=installation.INSTALLATION_ACCEPT_UPDATE)
    async def accept(self) -> installation.InstallationView:
        await self.case.first_answer()
        return self.view()

    @workflow.update(name=installation.INSTALLATION_BOOK_UPDATE)
    async def book_appointment(
        self, request: installation.BookVisit
    ) -> installation.InstallationView:
        await self.commands.hand_over(request)
        return self.view()

    @book_appointment.validator
    def _validate_booking(self, request: installation.BookVisit) -> None:
        self._require("book", self.status in (I.SCHEDULING, I.SCHEDULED))

    @workflow.update(name=installation.INSTALLATION_VISIT_UPDATE)
    async def report_visit(self, report: installation.VisitReport) -> installation.InstallationView:
        await self.commands.hand_over(report)
        return self.view()

    @report_visit.validator
    def _validate_report(self, report: installation.VisitReport) -> None:
        self._require(report.outcome.value, self.status is I.SCHEDULED)

    @workflow.update(name=installation.INSTALLATION_COMMISSION_UPDATE)
    async def commission(
        self, commissioning: installation.InstallationCommissioning
    ) -> installation.InstallationView:
        await self.commands.hand_over(commissioning)
        return self.view()

    @commission.validator
    def _validate_commission(self, commissioning: installation.InstallationCommissioning) -> None:
        self._require(installation.COMMISSIONING, self.status is I.INSTALLED)

    @workflow.update(name=installation.INSTALLATION_RESCHEDULE_UPDATE)
    async def reschedule(
        self, request: installation.InstallationReschedule
    ) -> installation.InstallationView:
        await self.commands.hand_over(request)
        return self.view()

    @reschedule.validator
    def _validate_reschedule(self, request: installation.InstallationReschedule) -> None:
        self._require("reschedule", self.status is I.SCHEDULED)
        self.visits.refuse_reschedule(self.start.policy.max_reschedules)

    @workflow.update(name=installation.INSTALLATION_CANCEL_UPDATE)
    async def cancel(
        self, request: installation.InstallationCancel
    ) -> installation.InstallationView:
        await self.commands.hand_over(request)
        return self.view()

    @cancel.validator
    def _validate_cancel(self, request: installation.InstallationCancel) -> None:
        self._require("cancel", self.status in installation.CANCELLABLE)

    @workflow.query(name=CURRENT_QUERY)
    def current(self) -> installation.InstallationView:
        return self.view()

    # ------------------------------------------------------------------ helpers

    def view(self) -> installation.InstallationView:
        return installation.InstallationView(
            installation_id=self.start.installation_id,
            status=self.status,
            appointment=self.visits.appointment,
            reschedules_used=self.visits.reschedules_used,
            asset_id=self.asset_id,
        )

    def _require(self, action: str, allowed: bool) -> None:
        if not (self.case.recorded and self.commands.empty and allowed):
            raise invalid_transition(
                action, self.status.value, installation.allowed_actions(self.status)
            )

    def _facts(self) -> InstallationFacts:
        start = self.start
        return InstallationFacts(
            asset=RelocatedAsset(start.sku, start.serial, start.product_name),
            provider_org_id=start.provider_org_id,
            site=start.site,
            training=start.training,
            training_given=self.training_given,
            appointment=self.visits.appointment,
            reschedules_used=self.visits.reschedules_used,
            max_reschedules=start.policy.max_reschedules,
            checklists={step: tuple(items) for step, items in self.checklists.items()},
            asset_id=self.asset_id or "",
        )

    async def _transition(
        self, status: I, event: E, actor: Actor, detail: dict[str, str] | None = None
    ) -> None:
        self.status = status
        await self.timeline.project(status, event, actor, detail, data=self._facts().to_data())


async def _no_scans(scan: CarrierEvent) -> None:
    """An installation takes no carrier scans (it has no `carrier_event` signal)."""
