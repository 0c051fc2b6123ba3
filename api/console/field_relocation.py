"""A relocation's field work (lifecycles.md §4) for the field pages: its uninstall and
reinstall visits, their checklists and the commissioning, sent through the JSON API's
relocation routes. Which step is allowed comes from `domain.relocation.allowed_actions`,
the list the workflow's refusals carry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import FormData

from api.case_access import CaseRef
from api.console.field_work import (
    ChecklistDraft,
    FieldSteps,
    FieldVisit,
    Send,
    checklist_data,
    utc_moment,
)
from api.console.technician_forms import Refusal, text, validated
from api.routes import relocations
from api.schemas.relocation import (
    AppointmentBody,
    CommissioningBody,
    RelocationPublic,
    StageBody,
)
from db import models
from db.cases import WorkedCase
from domain.contracts.facts import RelocationFacts, site_data
from domain.relocation import (
    SCHEDULED,
    SCHEDULING,
    TERMINAL_RELOCATION_STATUSES,
    RelocationStatus,
    Stage,
    allowed_actions,
)
from presentation.formatting import human_datetime, humanise

R = RelocationStatus

CHECKLISTS: dict[str, tuple[str, ...]] = {
    "uninstalled": (
        "Power and supplies isolated",
        "Unit drained and cleaned",
        "Packed and labelled for transport",
    ),
    "reinstalled": (
        "Placed and levelled",
        "Power and supplies connected",
        "Powers on without faults",
    ),
    "commissioning": (
        "Self-test passed",
        "Performance within specification",
        "Customer shown the unit working",
    ),
}
_DONE_LABELS = {R.UNINSTALLED: "Uninstall done", R.REINSTALLED: "Reinstall done"}
_WAITING: dict[RelocationStatus, str] = {
    R.UNINSTALLED: "Uninstalled: the carrier's pick-up moves it on to transport.",
    R.IN_TRANSIT: "On the road to the new site; the carrier's delivery scan brings it back "
    "here for the reinstall visit.",
}


class RelocationField:
    segment = "relocations"
    case_type = "relocation"
    noun = "Relocation"
    resource = relocations.RELOCATIONS
    commands = relocations.RELOCATION_COMMANDS
    open_statuses = tuple(s.value for s in R if s not in TERMINAL_RELOCATION_STATUSES)

    def visit(self, worked: WorkedCase) -> tuple[FieldVisit, bool]:
        case = worked.case
        facts = RelocationFacts.from_data(case.data)
        status = R(case.status)
        booked = facts.appointment if status in SCHEDULED.values() else None
        stage = _stage_to_book(status) or (booked.stage if booked else None)
        # Uninstall happens at the old site; everything after, at the new one.
        site = facts.from_site if stage is Stage.UNINSTALL else facts.to_site
        if status is R.REINSTALLED:
            visit_name = "Commissioning"
        else:
            visit_name = stage.value.capitalize() if stage else humanise(status.value)
        return (
            FieldVisit(
                case_id=case.id,
                path=f"/console/field/{self.segment}/{case.id}",
                noun=self.noun,
                visit=visit_name,
                starts_at=booked.starts_at if booked else None,
                technician=booked.technician if booked else "",
                site=site_data(site),
                customer_name=worked.customer_name,
                product=facts.asset.product_name or facts.asset.sku,
                status=humanise(status.value),
            ),
            _stage_to_book(status) is not None,
        )

    def steps(self, case: models.Case) -> FieldSteps:
        status = R(case.status)
        actions = allowed_actions(status)
        book = next((s for s in Stage if f"book_{s.value}" in actions), None)
        done = next(
            (s for s in R if s.value in actions and s in (R.UNINSTALLED, R.REINSTALLED)), None
        )
        rebook = status in SCHEDULED.values()
        return FieldSteps(
            book=book.value if book else None,
            book_label=(
                f"{'Move the' if rebook else 'Book the'} {book.value} visit" if book else ""
            ),
            done=done.value if done else None,
            done_label=_DONE_LABELS.get(done, "") if done else "",
            missed="missed" in actions,
            commission="commissioning" in actions,
            waiting=_WAITING.get(status),
        )

    def checklist(self, step: str) -> tuple[str, ...]:
        return CHECKLISTS.get(step, ())

    def facts(self, view: BaseModel) -> list[tuple[str, str]]:
        assert isinstance(view, RelocationPublic)
        asset = view.asset
        rows = [
            ("Asset", f"{asset.get('product_name') or asset.get('sku')} ({asset.get('sku')})"),
            ("Serial", str(asset.get("serial", ""))),
            ("From", one_line(view.from_site)),
            ("To", one_line(view.to_site)),
        ]
        if view.appointment:
            when = view.appointment.get("starts_at", "")
            rows.append(
                (
                    "Visit booked",
                    f"{str(view.appointment.get('stage', '')).capitalize()}, "
                    f"{describe_when(when)}, {view.appointment.get('technician', '')}",
                )
            )
        rows.append(
            ("Customer reschedules", f"{view.reschedules_used} of {view.max_reschedules} used")
        )
        return rows

    def book(self, form: FormData, ref: CaseRef, case: models.Case) -> Send | Refusal:
        body = validated(
            AppointmentBody,
            {
                "stage": text(form, "stage"),
                "starts_at": utc_moment(text(form, "starts_at")),
                "technician": text(form, "technician"),
            },
        )
        if isinstance(body, Refusal):
            return body
        return lambda commands: relocations.book_appointment(body, ref, commands)

    def report(self, form: FormData, draft: ChecklistDraft, ref: CaseRef) -> Send | Refusal:
        outcome = text(form, "outcome")
        checklist = checklist_data(draft) if outcome != "missed" else []
        body = validated(StageBody, {"status": outcome, "checklist": checklist})
        if isinstance(body, Refusal):
            return body
        return lambda commands: relocations.report_stage(body, ref, commands)

    def commission(self, form: FormData, draft: ChecklistDraft, ref: CaseRef) -> Send | Refusal:
        body = validated(CommissioningBody, {"checklist": checklist_data(draft)})
        if isinstance(body, Refusal):
            return body
        return lambda commands: relocations.commission(body, ref, commands)


def _stage_to_book(status: RelocationStatus) -> Stage | None:
    return next((stage for stage, waiting in SCHEDULING.items() if waiting is status), None)


def one_line(site: dict[str, Any]) -> str:
    keys = ("line1", "line2", "city", "postal_code", "country")
    return ", ".join(str(site[k]) for k in keys if site.get(k))


def describe_when(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return human_datetime(moment, datetime.now(UTC).date())
