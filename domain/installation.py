"""The installation lifecycle's vocabulary (lifecycles.md §6) and its workflow messages.

A first installation at the customer's site, with an optional training session, carried
out by a provider organisation: one visit booked (reminded, rescheduled by the customer,
missed and booked again), a checklist when installed, and commissioning that completes the
case with an Installation Certificate and an asset at the site."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.appointments import ChecklistItem, Visit, certificate_lines, visit_day
from domain.common import Actor, Address, Customer, DocumentRef, Policy
from domain.documents import InstallationCertificateData
from domain.ids import child_case_id


class InstallationStatus(StrEnum):
    SCHEDULING = "scheduling"
    SCHEDULED = "scheduled"
    INSTALLED = "installed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class VisitOutcome(StrEnum):
    INSTALLED = "installed"
    MISSED = "missed"


I = InstallationStatus  # noqa: E741 - the lifecycle's states, as R is the relocation's
TERMINAL_INSTALLATION_STATUSES = frozenset({I.COMPLETED, I.CANCELLED})
# A cancel is possible until the equipment is installed.
CANCELLABLE = frozenset({I.SCHEDULING, I.SCHEDULED})
# The one kind of visit an installation has: named in its timeline details (`stage`), so
# the reminder email and the tracking page word it as they word a relocation's visits.
VISIT = "installation"
# The steps an installation records a checklist and a date for.
INSTALLED = "installation"
COMMISSIONING = "commissioning"


@dataclass
class InstallationStart:
    installation_id: str
    org_id: str
    org_name: str
    tracking_token: str
    provider_org_id: str
    provider_name: str
    sku: str
    serial: str
    product_name: str
    site: Address
    customer: Customer
    training: bool
    policy: Policy
    public_base_url: str


@dataclass
class InstallationView:
    installation_id: str
    status: InstallationStatus
    appointment: Visit | None = None
    reschedules_used: int = 0
    asset_id: str | None = None


@dataclass
class BookVisit:
    actor: Actor
    starts_at: datetime
    technician: str


@dataclass
class VisitReport:
    actor: Actor
    outcome: VisitOutcome
    checklist: list[ChecklistItem] = field(default_factory=list)


@dataclass
class InstallationCommissioning:
    actor: Actor
    checklist: list[ChecklistItem]
    # Whether the training the retailer asked for was given (None: not said).
    training_given: bool | None = None


@dataclass
class InstallationReschedule:
    """The customer asks, from the tracking page, for a later visit."""

    preferred_after: datetime | None = None


@dataclass
class InstallationCancel:
    actor: Actor
    reason: str = ""


@dataclass
class InstallationResult:
    installation_id: str
    status: InstallationStatus
    documents: list[DocumentRef] = field(default_factory=list)
    asset_id: str | None = None


def allowed_actions(status: InstallationStatus) -> tuple[str, ...]:
    """What may be done in a state: the body of a 409 `invalid_transition`."""
    actions: list[str] = []
    if status in (I.SCHEDULING, I.SCHEDULED):
        actions.append("book")
    if status is I.SCHEDULED:
        actions += [I.INSTALLED.value, VisitOutcome.MISSED.value, "reschedule"]
    if status is I.INSTALLED:
        actions.append("commissioning")
    if status in CANCELLABLE:
        actions.append("cancel")
    return tuple(actions)


def training_words(requested: bool, given: bool | None) -> str:
    """What the certificate and the verification say of the training."""
    if not requested:
        return "Not requested"
    return "Given" if given else "Not given"


INSTALLATION_WORKFLOW = "Installation"
INSTALLATION_ACCEPT_UPDATE = "accept"
INSTALLATION_BOOK_UPDATE = "book_appointment"
INSTALLATION_VISIT_UPDATE = "report_visit"
INSTALLATION_COMMISSION_UPDATE = "commission"
INSTALLATION_RESCHEDULE_UPDATE = "reschedule"
INSTALLATION_CANCEL_UPDATE = "cancel"
# The refusal of a commissioning that does not say whether the asked-for training was given.
TRAINING_NOT_REPORTED = "training_not_reported"
# Why an installation is stored cancelled at once: another open case holds its unit.
DUPLICATE_OPEN_CASE = "duplicate_open_case"


def installation_certificate(
    start: InstallationStart,
    technician: str,
    checklists: dict[str, list[ChecklistItem]],
    dates: dict[str, datetime],
    training_given: bool | None,
) -> InstallationCertificateData:
    """The Installation Certificate of a commissioned installation, from its checklists and
    dates by step (`installation`, `commissioning`); the documents activity fills in its
    verification code."""

    return InstallationCertificateData(
        certificate_number=child_case_id(start.installation_id, "IC"),
        installation_number=start.installation_id,
        retailer_name=start.org_name,
        provider_name=start.provider_name,
        customer_first_name=start.customer.first_name,
        product_name=start.product_name,
        sku=start.sku,
        serial=start.serial,
        site=start.site,
        technician=technician,
        installed_on=visit_day(dates, INSTALLED),
        commissioned_on=visit_day(dates, COMMISSIONING),
        installation_checklist=certificate_lines(checklists.get(INSTALLED, [])),
        commissioning_checklist=certificate_lines(checklists.get(COMMISSIONING, [])),
        training=training_words(start.training, training_given),
        verification_code="",
        verify_url="",
    )


# What the retailer, the provider or the customer asks of an installation: its main loop
# applies one at a time.
InstallationCommand = (
    BookVisit
    | VisitReport
    | InstallationCommissioning
    | InstallationReschedule
    | InstallationCancel
)
