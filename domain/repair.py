"""The repair job's vocabulary and pure rules (lifecycles.md §2): states, quotes, SLA, routing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from domain.common import Actor, Address, Customer, DocumentRef, Policy, ShipmentRef
from domain.documents import CertificatePart, RepairCertificateData, long_date
from domain.ids import child_case_id
from domain.money import money_text, quantize_minor


class RepairStatus(StrEnum):
    AWAITING_UNIT = "awaiting_unit"
    RECEIVED = "received"
    DIAGNOSING = "diagnosing"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_PARTS = "awaiting_parts"
    REPAIRING = "repairing"
    QUALITY_CHECK = "quality_check"
    READY_TO_SHIP = "ready_to_ship"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    RETURNED_UNREPAIRED = "returned_unrepaired"
    BEYOND_REPAIR = "beyond_repair"
    CANCELLED = "cancelled"
    UNROUTABLE = "unroutable"


TERMINAL_REPAIR_STATUSES = frozenset(
    {
        RepairStatus.COMPLETED,
        RepairStatus.RETURNED_UNREPAIRED,
        RepairStatus.BEYOND_REPAIR,
        RepairStatus.CANCELLED,
        RepairStatus.UNROUTABLE,
    }
)
# A job in one of these is open work at its center, in the order a job moves through them.
OPEN_REPAIR_STATUSES: tuple[RepairStatus, ...] = tuple(
    s for s in RepairStatus if s not in TERMINAL_REPAIR_STATUSES
)

_S = RepairStatus

# The only moves the workflow's update validators accept; anything else is a 409
# `invalid_transition`. `unroutable` is never a target: a job that cannot be routed
# starts (and ends) there. Cancel appears only before `repairing` (api.md: the retailer
# may cancel "before repairing"), since by then the center has spent parts and labor.
REPAIR_TRANSITIONS: dict[RepairStatus, frozenset[RepairStatus]] = {
    _S.AWAITING_UNIT: frozenset({_S.RECEIVED, _S.CANCELLED}),
    _S.RECEIVED: frozenset({_S.DIAGNOSING, _S.CANCELLED}),
    _S.DIAGNOSING: frozenset(
        {
            _S.AWAITING_APPROVAL,  # coverage `paid`: a quote first
            _S.AWAITING_PARTS,  # parts listed
            _S.REPAIRING,  # nothing to order
            _S.BEYOND_REPAIR,  # not repairable → child replacement
            _S.READY_TO_SHIP,  # nothing to repair: straight back to the customer
            _S.CANCELLED,
        }
    ),
    _S.AWAITING_APPROVAL: frozenset(
        {
            _S.AWAITING_PARTS,  # approved, parts listed
            _S.REPAIRING,  # approved, nothing to order
            _S.READY_TO_SHIP,  # declined or expired: returned unrepaired
            _S.CANCELLED,
        }
    ),
    _S.AWAITING_PARTS: frozenset({_S.REPAIRING, _S.CANCELLED}),
    _S.REPAIRING: frozenset({_S.QUALITY_CHECK}),
    # Fail → back to repairing; a second fail → beyond_repair (the count is the workflow's).
    _S.QUALITY_CHECK: frozenset({_S.READY_TO_SHIP, _S.REPAIRING, _S.BEYOND_REPAIR}),
    _S.READY_TO_SHIP: frozenset({_S.SHIPPED}),
    # Delivered: completed when repaired, returned_unrepaired when the quote was declined.
    _S.SHIPPED: frozenset({_S.COMPLETED, _S.RETURNED_UNREPAIRED}),
    **{status: frozenset() for status in TERMINAL_REPAIR_STATUSES},
}


def can_transition(current: RepairStatus, target: RepairStatus) -> bool:
    return target in REPAIR_TRANSITIONS[current]


def cancellable(status: RepairStatus) -> bool:
    """Whether the retailer may still cancel: derived from the table so the two cannot drift."""
    return can_transition(status, RepairStatus.CANCELLED)


class RepairCoverage(StrEnum):
    RETURN_WINDOW = "return_window"
    WARRANTY = "warranty"
    SERVICE_PLAN = "service_plan"
    PAID = "paid"
    # An RMA the retailer accepted as goodwill: the retailer covers it, no quote.
    GOODWILL = "goodwill"
    # Offered by the retailer's campaign (a recall, a service action): no window, no
    # warranty check, nothing to pay.
    CAMPAIGN = "campaign"


def needs_quote(coverage: RepairCoverage) -> bool:
    """Only a paid repair asks the customer to approve a price; covered ones (the return
    window behaves like warranty) go straight to the work."""
    return coverage is RepairCoverage.PAID


@dataclass(frozen=True)
class Part:
    part_no: str
    description: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Quote:
    parts_total: Decimal
    labor_total: Decimal
    total: Decimal


def quote(
    parts: list[Part], labor_minutes: int, labor_rate_per_hour: Decimal, currency: str
) -> Quote:
    """Parts plus labor at the center's hourly rate, each rounded half up to `currency`'s
    minor unit (the cent; whole yen, a thousandth of a dinar).

    Each subtotal is rounded once, after summing, so the customer's total is exactly the
    sum of the two figures shown beside it.
    """
    for part in parts:
        if part.quantity < 1:
            raise ValueError(f"part {part.part_no}: quantity must be at least 1")
        if not part.unit_price.is_finite() or part.unit_price < 0:
            raise ValueError(f"part {part.part_no}: unit price must be a non-negative amount")
    if labor_minutes < 0:
        raise ValueError("labor_minutes must not be negative")
    if not labor_rate_per_hour.is_finite() or labor_rate_per_hour < 0:
        raise ValueError("labor rate must be a non-negative amount")

    parts_sum = sum((p.unit_price * p.quantity for p in parts), Decimal(0))
    parts_total = quantize_minor(parts_sum, currency)
    labor_total = quantize_minor(labor_rate_per_hour * labor_minutes / Decimal(60), currency)
    return Quote(parts_total=parts_total, labor_total=labor_total, total=parts_total + labor_total)


@dataclass
class PendingQuote:
    """A paid repair's quote as the customer holds it: the price, until when it stands, and
    how it was answered (`approved`, `declined` or `expired`; None while it waits)."""

    quote: Quote
    expires_at: datetime
    outcome: str | None = None

    @classmethod
    def offer(
        cls, diagnosis: Diagnosis, labor_rate: Decimal, expires_at: datetime, currency: str
    ) -> PendingQuote:
        """The quote of the diagnosed work at the center's labor rate, in `currency`."""
        work = quote(diagnosis.parts, diagnosis.labor_minutes, labor_rate, currency)
        return cls(work, expires_at)

    def detail(self, currency: str) -> dict[str, str]:
        """The timeline detail of the quote, beside the diagnosis's."""
        return {
            "amount": money_text(self.quote.total, currency),
            "currency": currency,
            "expires_at": self.expires_at.isoformat(),
        }


def quote_open(status: RepairStatus, pending: PendingQuote | None) -> bool:
    """Whether the customer may still approve or decline. Once the quote has expired the
    job is on its way back, even while the status still reads `awaiting_approval` as the
    return parcel is booked."""
    return status is RepairStatus.AWAITING_APPROVAL and (pending is None or pending.outcome is None)


def may_cancel(status: RepairStatus, unit_moving: bool, pending: PendingQuote | None) -> bool:
    """Whether the retailer may cancel now: before `repairing` (the transition table says),
    not once the unit's parcel to the center moves (`unit_moving`: it can be neither voided
    nor stopped), nor once an expired quote's return parcel is being booked."""
    on_its_way = status is RepairStatus.AWAITING_UNIT and unit_moving
    going_back = (
        status is RepairStatus.AWAITING_APPROVAL
        and pending is not None
        and pending.outcome is not None
    )
    return cancellable(status) and not on_its_way and not going_back


def _paused_time(
    received_at: datetime, pauses: list[tuple[datetime, datetime | None]], now: datetime
) -> timedelta:
    """Length of the union of the pauses, clipped to start no earlier than `received_at`."""
    intervals: list[tuple[datetime, datetime]] = []
    for start, end in pauses:
        if end is not None and end < start:
            raise ValueError("a pause cannot end before it starts")
        effective_end = now if end is None else end
        effective_start = max(start, received_at)
        if effective_end > effective_start:
            intervals.append((effective_start, effective_end))

    total = timedelta(0)
    covered_until: datetime | None = None
    for start, end in sorted(intervals):
        if covered_until is not None:
            start = max(start, covered_until)
        if end > start:
            total += end - start
        covered_until = end if covered_until is None else max(covered_until, end)
    return total


def sla_due_at(
    received_at: datetime,
    turnaround: timedelta,
    pauses: list[tuple[datetime, datetime | None]],
    now: datetime,
) -> datetime:
    """When the job must reach `ready_to_ship`.

    The clock starts at `received` and stops while the customer holds a quote
    (`awaiting_approval`): the center cannot be late because of the customer's wait.
    An open pause (end None) runs until `now`, so the due time moves while it stays open.
    """
    return received_at + turnaround + _paused_time(received_at, pauses, now)


def sla_breached(
    due_at: datetime, reached_ready_to_ship_at: datetime | None, now: datetime
) -> bool:
    """Late if still not ready after the due time, or made ready only after it."""
    if reached_ready_to_ship_at is None:
        return now > due_at
    return reached_ready_to_ship_at > due_at


@dataclass
class SlaClock:
    """A job's turnaround clock: it runs from `received` until `ready_to_ship`, stops while
    a quote awaits the customer (`awaiting_approval`), and is breached at most once."""

    turnaround: timedelta
    received_at: datetime | None = None
    ready_at: datetime | None = None
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    breached: bool = False

    def pause(self, now: datetime) -> None:
        self.pauses.append((now, None))

    def resume(self, now: datetime) -> None:
        """End the open pause, if one is open."""
        if self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1] = (self.pauses[-1][0], now)

    def due(self, now: datetime) -> datetime | None:
        """When the job must be ready: None until the unit is received."""
        if self.received_at is None:
            return None
        return sla_due_at(self.received_at, self.turnaround, self.pauses, now)

    def alarm(self, status: RepairStatus, now: datetime) -> datetime | None:
        """When to wake up to flag a breach: only while the clock runs."""
        if self.breached or self.ready_at is not None or status is RepairStatus.AWAITING_APPROVAL:
            return None
        if status in TERMINAL_REPAIR_STATUSES:
            return None
        return self.due(now)

    def breach(self, status: RepairStatus, now: datetime) -> datetime | None:
        """Mark the breach if the job is late now (not ready by its due time, pauses
        excluded) and was not already: answers the due time missed, else None."""
        if self.breached or status in TERMINAL_REPAIR_STATUSES:
            return None
        due = self.due(now)
        if due is None or status is RepairStatus.AWAITING_APPROVAL:
            return None
        if (self.ready_at or now) < due:
            return None
        self.breached = True
        return due


@dataclass(frozen=True)
class CenterProfile:
    org_id: str
    categories: frozenset[str]
    regions: frozenset[str]
    daily_capacity: int


def fitting(centers: list[CenterProfile], category: str, country: str) -> list[CenterProfile]:
    """The centers that can take a unit of `category` from `country`: they repair the
    category, serve the country and have some capacity."""
    wanted = country.upper()
    return [
        center
        for center in centers
        if center.daily_capacity > 0
        and category in center.categories
        and wanted in {region.upper() for region in center.regions}
    ]


def route(
    centers: list[CenterProfile], category: str, country: str, open_jobs: dict[str, int]
) -> str | None:
    """The fitting center with the lowest open jobs per unit of daily capacity, or None.

    Loads are compared as exact fractions (no float ties), and ties go to the smallest
    org_id so that a replayed workflow routes the same way. A center with no capacity
    can take no work. None means the job is `unroutable`.
    """
    candidates = fitting(centers, category, country)
    if not candidates:
        return None
    best = min(
        candidates,
        key=lambda c: (Fraction(open_jobs.get(c.org_id, 0), c.daily_capacity), c.org_id),
    )
    return best.org_id


# --------------------------------------------------------------------------- messages


@dataclass
class RepairUnit:
    sku: str
    serial: str
    product_name: str
    category: str
    purchased_at: datetime | None = None
    unit_price: Decimal = Decimal(0)


@dataclass
class AssignedCenter:
    """The routed repair center, as the job needs it (read once, kept in history)."""

    org_id: str
    name: str
    address: Address
    labor_rate: Decimal


@dataclass
class RepairStart:
    """Everything the workflow needs, gathered by the API (or a parent case) at creation."""

    repair_id: str
    org_id: str
    org_name: str
    tracking_token: str
    unit: RepairUnit
    fault: str
    customer: Customer
    coverage: RepairCoverage
    policy: Policy
    public_base_url: str
    # Set when a parent case routed the job already (an RMA whose label addressed the center).
    center: AssignedCenter | None = None
    # Where the unit travels from to reach the center: None when it is there already.
    unit_origin: Address | None = None
    rma_id: str | None = None
    # A direct job beyond repair starts a replacement, which needs a token of its own.
    replacement_tracking_token: str = ""


@dataclass
class RepairView:
    """What an update answers: the job's state once the command has taken effect."""

    repair_id: str
    status: RepairStatus
    assigned_center: str | None = None
    quote: Quote | None = None
    quote_expires_at: datetime | None = None
    sla_breached: bool = False


@dataclass
class StatusChange:
    """A center's report: `received`, `diagnosing`, `repairing` (parts in), `quality_check`."""

    actor: Actor
    status: RepairStatus
    note: str = ""


@dataclass
class Diagnosis:
    actor: Actor
    fault_code: str
    findings: str
    parts: list[Part]
    labor_minutes: int
    repairable: bool


@dataclass
class QaReport:
    actor: Actor
    passed: bool
    notes: str = ""


@dataclass
class QuoteDecision:
    actor: Actor
    approve: bool


@dataclass
class RepairCancel:
    actor: Actor
    reason: str = ""


@dataclass
class RepairResult:
    repair_id: str
    status: RepairStatus
    sla_breached: bool = False
    documents: list[DocumentRef] = field(default_factory=list)
    shipments: list[ShipmentRef] = field(default_factory=list)


# The statuses a center may report through `POST /v1/repairs/{id}/status`, and the state
# each one may be reported from. Every other move is the consequence of another command.
REPORTABLE_FROM: dict[RepairStatus, RepairStatus] = {
    RepairStatus.RECEIVED: RepairStatus.AWAITING_UNIT,
    RepairStatus.DIAGNOSING: RepairStatus.RECEIVED,
    RepairStatus.REPAIRING: RepairStatus.AWAITING_PARTS,
    RepairStatus.QUALITY_CHECK: RepairStatus.REPAIRING,
}

# Names the API uses to reach the workflow without importing workflow code.
REPAIR_WORKFLOW = "Repair"
ACCEPT_UPDATE = "accept"
STATUS_UPDATE = "report_status"
DIAGNOSIS_UPDATE = "diagnose"
QA_UPDATE = "report_qa"
QUOTE_UPDATE = "decide_quote"
REPAIR_CANCEL_UPDATE = "cancel"
# Quality check failures a job survives; the next one ends it `beyond_repair`.
QA_FAILURES_ALLOWED = 1


def allowed_next(status: RepairStatus) -> tuple[str, ...]:
    """The body of a 409: the states this one may move to, in a stable order."""
    return tuple(sorted(s.value for s in REPAIR_TRANSITIONS[status]))


def diagnosis_detail(diagnosis: Diagnosis) -> dict[str, str]:
    """The timeline detail of a diagnosis."""
    return {
        "fault_code": diagnosis.fault_code,
        "findings": diagnosis.findings,
        "labor_minutes": str(diagnosis.labor_minutes),
        "parts": str(len(diagnosis.parts)),
    }


def parts_list(parts: list[Part]) -> str:
    """The parts a job waits for, as the timeline shows them: `2x P-1, 1x P-2`."""
    return ", ".join(f"{p.quantity}x {p.part_no}" for p in parts)


def reason_of(status: RepairStatus, detail: dict[str, str] | None) -> str | None:
    """The read model's `reason` of a job in `status`: why it ended beyond repair (its
    timeline detail says), or that it could not be routed."""
    if status is RepairStatus.BEYOND_REPAIR and detail:
        return detail.get("reason")
    if status is RepairStatus.UNROUTABLE:
        return "unroutable"
    return None


def repair_certificate(
    start: RepairStart, center_name: str, diagnosis: Diagnosis, qa_notes: str, passed_at: datetime
) -> RepairCertificateData:
    """The Certificate of Repair of a job that passed quality check at `passed_at`; the
    documents activity fills in its verification code."""
    return RepairCertificateData(
        certificate_number=child_case_id(start.repair_id, "CR"),
        job_number=start.repair_id,
        retailer_name=start.org_name,
        repair_center_name=center_name,
        customer_first_name=start.customer.first_name,
        product_name=start.unit.product_name,
        sku=start.unit.sku,
        serial=start.unit.serial,
        fault_code=diagnosis.fault_code,
        fault=start.fault,
        work_done=diagnosis.findings + (f" QA: {qa_notes}" if qa_notes else ""),
        parts=[CertificatePart(p.part_no, p.description, p.quantity) for p in diagnosis.parts],
        qa_passed_on=long_date(passed_at),
        repair_warranty_until=long_date(passed_at + start.policy.repair_warranty),
        verification_code="",
        verify_url="",
    )


# What the center (or the customer) asks of a job: its main loop applies one at a time.
RepairCommand = StatusChange | Diagnosis | QaReport | QuoteDecision | RepairCancel
