"""The relocation lifecycle's vocabulary (lifecycles.md §4) and its workflow messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# A relocation's visits are booked, reminded and checked as every site visit is.
from domain.appointments import RESCHEDULE_LIMIT_REACHED as RESCHEDULE_LIMIT_REACHED
from domain.appointments import ChecklistItem as ChecklistItem
from domain.appointments import certificate_lines, checklist_summary, visit_day
from domain.common import Actor, Address, Customer, DocumentRef, Policy, ShipmentRef
from domain.documents import ChecklistLine, RelocationCertificateData
from domain.ids import child_case_id


class RelocationStatus(StrEnum):
    SCHEDULING_UNINSTALL = "scheduling_uninstall"
    UNINSTALL_SCHEDULED = "uninstall_scheduled"
    UNINSTALLED = "uninstalled"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    REINSTALL_SCHEDULED = "reinstall_scheduled"
    REINSTALLED = "reinstalled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    UNINSTALL = "uninstall"
    REINSTALL = "reinstall"


class StageOutcome(StrEnum):
    UNINSTALLED = "uninstalled"
    REINSTALLED = "reinstalled"
    MISSED = "missed"


R = RelocationStatus
TERMINAL_RELOCATION_STATUSES = frozenset({R.COMPLETED, R.CANCELLED})

# Where each stage is booked from, where its booking leads, and where a miss sends it back.
SCHEDULING = {Stage.UNINSTALL: R.SCHEDULING_UNINSTALL, Stage.REINSTALL: R.DELIVERED}
SCHEDULED = {Stage.UNINSTALL: R.UNINSTALL_SCHEDULED, Stage.REINSTALL: R.REINSTALL_SCHEDULED}
DONE = {Stage.UNINSTALL: R.UNINSTALLED, Stage.REINSTALL: R.REINSTALLED}
# A cancel is possible until the equipment is on the road.
CANCELLABLE = frozenset({R.SCHEDULING_UNINSTALL, R.UNINSTALL_SCHEDULED, R.UNINSTALLED})
# The steps a relocation records a checklist or a date for, beside its stages.
COMMISSIONING = "commissioning"
DELIVERED = "delivered"


@dataclass
class Appointment:
    stage: Stage
    starts_at: datetime
    technician: str


@dataclass
class RelocationStart:
    relocation_id: str
    org_id: str
    org_name: str
    tracking_token: str
    provider_org_id: str
    provider_name: str
    asset_id: str
    sku: str
    serial: str
    product_name: str
    from_site: Address
    to_site: Address
    customer: Customer
    policy: Policy
    public_base_url: str


@dataclass
class RelocationView:
    relocation_id: str
    status: RelocationStatus
    appointment: Appointment | None = None
    reschedules_used: int = 0


@dataclass
class BookAppointment:
    actor: Actor
    stage: Stage
    starts_at: datetime
    technician: str


@dataclass
class StageReport:
    actor: Actor
    outcome: StageOutcome
    checklist: list[ChecklistItem] = field(default_factory=list)

    def summary(self) -> dict[str, str]:
        """The timeline detail of a stage done: how many checklist items passed."""
        return checklist_summary(self.checklist)


@dataclass
class Commissioning:
    actor: Actor
    checklist: list[ChecklistItem]


@dataclass
class RescheduleRequest:
    """The customer asks, from the tracking page, for a later appointment."""

    stage: Stage
    preferred_after: datetime | None = None


@dataclass
class RelocationCancel:
    actor: Actor
    reason: str = ""


@dataclass
class RelocationResult:
    relocation_id: str
    status: RelocationStatus
    documents: list[DocumentRef] = field(default_factory=list)
    shipments: list[ShipmentRef] = field(default_factory=list)


def allowed_actions(status: RelocationStatus) -> tuple[str, ...]:
    """What may be done in a state: the body of a 409 `invalid_transition`."""
    actions: list[str] = []
    for stage in Stage:
        if status is SCHEDULING[stage]:
            actions.append(f"book_{stage.value}")
        if status is SCHEDULED[stage]:
            actions += [
                f"book_{stage.value}",
                DONE[stage].value,
                "missed",
                f"reschedule_{stage.value}",
            ]
    if status is R.REINSTALLED:
        actions.append("commissioning")
    if status in CANCELLABLE:
        actions.append("cancel")
    return tuple(actions)


RELOCATION_WORKFLOW = "Relocation"
RELOCATION_ACCEPT_UPDATE = "accept"
BOOK_UPDATE = "book_appointment"
STAGE_UPDATE = "report_stage"
COMMISSION_UPDATE = "commission"
RESCHEDULE_UPDATE = "reschedule"
RELOCATION_CANCEL_UPDATE = "cancel"


def relocation_certificate(
    start: RelocationStart,
    technician: str,
    checklists: dict[str, list[ChecklistItem]],
    dates: dict[str, datetime],
) -> RelocationCertificateData:
    """The Relocation & Installation Certificate of a commissioned relocation, from its
    checklists and dates by step (`uninstall`, `reinstall`, `delivered`, `commissioning`);
    the documents activity fills in its verification code."""

    def lines(step: str) -> list[ChecklistLine]:
        return certificate_lines(checklists.get(step, []))

    return RelocationCertificateData(
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
        technician=technician,
        uninstalled_on=visit_day(dates, Stage.UNINSTALL.value),
        delivered_on=visit_day(dates, DELIVERED),
        commissioned_on=visit_day(dates, COMMISSIONING),
        uninstall_checklist=lines(Stage.UNINSTALL.value),
        reinstall_checklist=lines(Stage.REINSTALL.value),
        commissioning_checklist=lines(COMMISSIONING),
        verification_code="",
        verify_url="",
    )


# What the retailer, the provider or the customer asks of a relocation: its main loop
# applies one at a time.
RelocationCommand = (
    BookAppointment | StageReport | Commissioning | RescheduleRequest | RelocationCancel
)
