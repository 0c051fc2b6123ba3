"""An installation's field work (lifecycles.md §6) for the field pages: its one visit, the
visit's checklist, and the commissioning (with whether the training asked for was given),
sent through the JSON API's installation routes. Which step is allowed comes from
`domain.installation.allowed_actions`, the list the workflow's refusals carry."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.datastructures import FormData

from api.case_access import CaseRef
from api.console.field_relocation import describe_when, one_line
from api.console.field_work import (
    ChecklistDraft,
    FieldSteps,
    FieldVisit,
    Send,
    checklist_data,
    utc_moment,
)
from api.console.technician_forms import Refusal, text, validated
from api.routes import installations
from api.schemas.installation import (
    InstallationCommissioningBody,
    InstallationPublic,
    VisitBody,
    VisitReportBody,
)
from db import models
from db.cases import WorkedCase
from domain.contracts.facts import InstallationFacts, site_data
from domain.installation import (
    TERMINAL_INSTALLATION_STATUSES,
    InstallationStatus,
    VisitOutcome,
    allowed_actions,
)
from presentation.formatting import humanise

I = InstallationStatus  # noqa: E741 - as domain.installation names them

CHECKLISTS: dict[str, tuple[str, ...]] = {
    VisitOutcome.INSTALLED.value: (
        "Site prepared and clear",
        "Installed, levelled and connected",
        "Powers on without faults",
    ),
    "commissioning": (
        "Self-test passed",
        "Performance within specification",
        "Customer shown the unit working",
    ),
}


class InstallationField:
    segment = "installations"
    case_type = "installation"
    noun = "Installation"
    resource = installations.INSTALLATIONS
    commands = installations.INSTALLATION_COMMANDS
    open_statuses = tuple(s.value for s in I if s not in TERMINAL_INSTALLATION_STATUSES)

    def visit(self, worked: WorkedCase) -> tuple[FieldVisit, bool]:
        case = worked.case
        facts = InstallationFacts.from_data(case.data)
        status = I(case.status)
        booked = facts.appointment if status is I.SCHEDULED else None
        return (
            FieldVisit(
                case_id=case.id,
                path=f"/console/field/{self.segment}/{case.id}",
                noun=self.noun,
                visit="Commissioning" if status is I.INSTALLED else "Installation visit",
                starts_at=booked.starts_at if booked else None,
                technician=booked.technician if booked else "",
                site=site_data(facts.site),
                customer_name=worked.customer_name,
                product=facts.asset.product_name or facts.asset.sku,
                status=humanise(status.value),
            ),
            status is I.SCHEDULING,
        )

    def steps(self, case: models.Case) -> FieldSteps:
        status = I(case.status)
        actions = allowed_actions(status)
        book = "book" in actions
        commission = "commissioning" in actions
        return FieldSteps(
            book="installation" if book else None,
            book_label=(
                ("Move the" if status is I.SCHEDULED else "Book the") + " installation visit"
                if book
                else ""
            ),
            done=VisitOutcome.INSTALLED.value if VisitOutcome.INSTALLED.value in actions else None,
            done_label="Installation done",
            missed=VisitOutcome.MISSED.value in actions,
            commission=commission,
            training=commission and InstallationFacts.from_data(case.data).training,
        )

    def checklist(self, step: str) -> tuple[str, ...]:
        return CHECKLISTS.get(step, ())

    def facts(self, view: BaseModel) -> list[tuple[str, str]]:
        assert isinstance(view, InstallationPublic)
        asset = view.asset
        rows = [
            ("Asset", f"{asset.get('product_name') or asset.get('sku')} ({asset.get('sku')})"),
            ("Serial", str(asset.get("serial", ""))),
            ("Site", one_line(view.site)),
            ("Training", "Asked for" if view.training else "Not asked for"),
        ]
        if view.appointment:
            when = describe_when(str(view.appointment.get("starts_at", "")))
            rows.append(("Visit booked", f"{when}, {view.appointment.get('technician', '')}"))
        rows.append(
            ("Customer reschedules", f"{view.reschedules_used} of {view.max_reschedules} used")
        )
        return rows

    def book(self, form: FormData, ref: CaseRef, case: models.Case) -> Send | Refusal:
        body = validated(
            VisitBody,
            {
                "starts_at": utc_moment(text(form, "starts_at")),
                "technician": text(form, "technician"),
            },
        )
        if isinstance(body, Refusal):
            return body
        return lambda commands: installations.book_appointment(body, ref, commands)

    def report(self, form: FormData, draft: ChecklistDraft, ref: CaseRef) -> Send | Refusal:
        outcome = text(form, "outcome")
        checklist = checklist_data(draft) if outcome != VisitOutcome.MISSED.value else []
        body = validated(VisitReportBody, {"status": outcome, "checklist": checklist})
        if isinstance(body, Refusal):
            return body
        return lambda commands: installations.report_visit(body, ref, commands)

    def commission(self, form: FormData, draft: ChecklistDraft, ref: CaseRef) -> Send | Refusal:
        given = {"yes": True, "no": False}.get(text(form, "training_given"))
        data = {"checklist": checklist_data(draft), "training_given": given}
        body = validated(InstallationCommissioningBody, data)
        if isinstance(body, Refusal):
            return body
        return lambda commands: installations.commission(body, ref, commands)
