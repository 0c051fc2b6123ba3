"""The service plan's vocabulary and pure rules (lifecycles.md §5): billing calendar, claim
eligibility over a rolling 12 months, and the cancellation refund. Groundwork for issue #7:
the workflow and API build on these."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.common import Actor, Address, Customer, Policy
from domain.documents import CoverageCertificateData, long_date
from domain.durations import add_months
from domain.ids import step_key
from domain.money import floor_minor, money_text


class PlanStatus(StrEnum):
    WAITING_PERIOD = "waiting_period"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"  # the first charge failed


class BillingPeriod(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"
    UPFRONT = "upfront"  # one charge for the whole term


class ClaimType(StrEnum):
    REPAIR = "repair"
    REPLACEMENT = "replacement"


class Overdue(StrEnum):
    """What a plan whose charge failed does when its time comes (lifecycles.md §5)."""

    SUSPEND = "suspend"  # grace is over: claims are refused until it pays
    RETRY = "retry"  # the next step of the dunning schedule


class ClaimRefusal(StrEnum):
    PLAN_NOT_ACTIVE = "plan_not_active"
    WAITING_PERIOD = "waiting_period"
    CLAIM_LIMIT_REACHED = "claim_limit_reached"
    NOT_COVERED = "not_covered"
    DEDUCTIBLE_PAYMENT_FAILED = "deductible_payment_failed"


@dataclass(frozen=True)
class PlanTerms:
    """A catalog entry as sold: a plan keeps these until it renews."""

    code: str
    name: str
    term_months: int
    billing_period: BillingPeriod
    price: Decimal  # per billing period (per term when upfront)
    claim_limit: int  # approved claims per rolling 12 months
    deductibles: dict[ClaimType, Decimal] = field(default_factory=dict)
    waiting_period: timedelta = timedelta(0)
    incidents: frozenset[str] = frozenset()
    cancel_full_refund_within: timedelta = timedelta(days=30)
    auto_renew: bool = True
    # How long before the term ends the customer hears of the renewal.
    renewal_notice: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.term_months < 1:
            raise ValueError("term_months must be at least 1")
        if self.billing_period is BillingPeriod.ANNUAL and self.term_months % 12:
            raise ValueError("an annual plan's term must be whole years")
        if not self.price.is_finite() or self.price < 0:
            raise ValueError("price must be a non-negative amount")
        if self.claim_limit < 0:
            raise ValueError("claim_limit must not be negative")


def months_per_period(period: BillingPeriod, term_months: int) -> int:
    return {BillingPeriod.MONTHLY: 1, BillingPeriod.ANNUAL: 12}.get(period, term_months)


def charge_dates(term_start: datetime, terms: PlanTerms) -> list[datetime]:
    """Every charge of one term, the first at its start. Each date is counted from the
    term's start (Jan 31 → Feb 28 → Mar 31), never from the previous, clamped, date, so the
    calendar does not drift."""
    step = months_per_period(terms.billing_period, terms.term_months)
    return [add_months(term_start, k) for k in range(0, terms.term_months, step)]


def term_end(term_start: datetime, terms: PlanTerms) -> datetime:
    return add_months(term_start, terms.term_months)


def period_containing(
    moment: datetime, term_start: datetime, terms: PlanTerms
) -> tuple[datetime, datetime]:
    """The billing period `moment` falls in: [start, end)."""
    dates = charge_dates(term_start, terms)
    bounds = [*dates, term_end(term_start, terms)]
    for start, end in itertools.pairwise(bounds):
        if start <= moment < end:
            return start, end
    raise ValueError("the moment is outside the term")


def claim_refusal(
    *,
    status: PlanStatus,
    now: datetime,
    enrolled_at: datetime,
    terms: PlanTerms,
    incident: str,
    approved_claims_at: list[datetime],
) -> ClaimRefusal | None:
    """Why a claim is refused, or None when it may go on to the deductible. The limit counts
    approved claims in the 12 calendar months up to now (rolling, not per term)."""
    if status is PlanStatus.WAITING_PERIOD or now < enrolled_at + terms.waiting_period:
        return ClaimRefusal.WAITING_PERIOD
    if status is not PlanStatus.ACTIVE:
        return ClaimRefusal.PLAN_NOT_ACTIVE
    if terms.incidents and incident not in terms.incidents:
        return ClaimRefusal.NOT_COVERED
    window_start = add_months(now, -12)
    recent = sum(1 for at in approved_claims_at if window_start < at <= now)
    if recent >= terms.claim_limit:
        return ClaimRefusal.CLAIM_LIMIT_REACHED
    return None


@dataclass(frozen=True)
class Charge:
    """A charge that succeeded, for the period [period_start, period_end)."""

    amount: Decimal
    period_start: datetime
    period_end: datetime


def cancellation_refund(
    *,
    now: datetime,
    enrolled_at: datetime,
    terms: PlanTerms,
    charges: list[Charge],
    any_approved_claim: bool,
    currency: str,
) -> Decimal:
    """What a cancellation at `now` gives back (lifecycles.md §5), in `currency`.

    Inside `cancel_full_refund_within` with no approved claim: everything paid. Otherwise
    the unused part of the paid period that contains `now`, prorated by days (whole days
    left, the day of cancellation counted as used) and rounded down to the currency's minor
    unit (the cent; whole yen, a thousandth of a dinar). A period not paid for gives nothing
    back.
    """
    if now < enrolled_at:
        raise ValueError("cannot cancel before enrolment")
    if now < enrolled_at + terms.cancel_full_refund_within and not any_approved_claim:
        return sum((c.amount for c in charges), Decimal(0))
    current = next((c for c in charges if c.period_start <= now < c.period_end), None)
    if current is None:
        return floor_minor(Decimal(0), currency)
    return prorated(current.amount, current.period_start, current.period_end, now, currency)


def prorated(
    amount: Decimal, start: datetime, end: datetime, now: datetime, currency: str
) -> Decimal:
    """The share of `amount` for the whole days of [start, end) still to come after `now`'s
    day, rounded down to `currency`'s minor unit: never more than was paid, never negative.
    Rounded down here, not later: the gateway and the API round an amount half up, which
    would give back 4000 JPY of a 3999.67 share."""
    total_days = (end.date() - start.date()).days
    if total_days <= 0:
        return floor_minor(Decimal(0), currency)
    used_days = min(total_days, (now.date() - start.date()).days + 1)
    unused = max(0, total_days - used_days)
    return floor_minor(amount * unused / total_days, currency)


def renewal_notice_at(term_start: datetime, terms: PlanTerms) -> datetime:
    """`plan.renewal_upcoming` goes out 30 days before the term ends."""
    return term_end(term_start, terms) - terms.renewal_notice


# --------------------------------------------------------------------------- messages


@dataclass
class ClaimRecord:
    number: int
    at: datetime
    type: ClaimType
    incident: str
    decision: str  # "approved" or "refused"
    reason: str | None = None
    case_id: str | None = None

    @property
    def link(self) -> str:
        """The name the child case it started is linked under."""
        return "repair_id" if self.type is ClaimType.REPAIR else "replacement_id"

    def answer(self) -> ClaimAnswer:
        """What the claim's caller is answered."""
        if self.decision != "approved":
            reason = None if self.reason is None else ClaimRefusal(self.reason)
            return ClaimAnswer(decision="refused", reason=reason)
        if self.type is ClaimType.REPAIR:
            return ClaimAnswer(decision="approved", repair_id=self.case_id)
        return ClaimAnswer(decision="approved", replacement_id=self.case_id)


@dataclass
class PlanState:
    """Everything a plan carries from one run to the next (continue-as-new)."""

    status: PlanStatus
    enrolled_at: datetime
    term_start: datetime
    term_number: int
    terms: PlanTerms
    payment_method: str
    customer: Customer
    charges: list[Charge] = field(default_factory=list)
    next_charge: int = 0
    failed_charge_at: datetime | None = None
    dunning_step: int = 0
    approved_claims_at: list[datetime] = field(default_factory=list)
    any_approved_claim: bool = False
    claims: list[ClaimRecord] = field(default_factory=list)
    renewal_notice_sent: bool = False
    timeline_seq: int = 0
    certificates: int = 0
    # Where the unit stands when a relocation moved it; the owner's address until then.
    unit_site: Address | None = None
    # The latest commands applied (update id -> a claim's answer, None for other commands),
    # carried across continue-as-new, where Temporal's dedupe of update ids ends: a command
    # retried with its Idempotency-Key after the plan continued is not applied twice.
    applied_commands: dict[str, ClaimAnswer | None] = field(default_factory=dict)

    @classmethod
    def enrol(cls, start: ServicePlanStart, now: datetime) -> PlanState:
        """A plan enrolled `now`: its first term begins, nothing paid yet."""
        return cls(
            status=PlanStatus.WAITING_PERIOD,
            enrolled_at=now,
            term_start=now,
            term_number=1,
            terms=start.terms,
            payment_method=start.payment_method,
            customer=start.customer,
        )

    # ------------------------------------------------------------ billing calendar

    @property
    def term_ends_at(self) -> datetime:
        return term_end(self.term_start, self.terms)

    def waiting(self, now: datetime) -> bool:
        """Whether the waiting period still runs at `now` (cover has not started)."""
        return now < self.enrolled_at + self.terms.waiting_period

    def renewal_notice_due(self, now: datetime) -> bool:
        return not self.renewal_notice_sent and now >= renewal_notice_at(
            self.term_start, self.terms
        )

    def notice_renewal(self) -> dict[str, str]:
        """The renewal notice goes out (once a term): its timeline detail."""
        self.renewal_notice_sent = True
        auto_renew = str(self.terms.auto_renew).lower()
        return {"term_ends_at": self.term_ends_at.isoformat(), "auto_renew": auto_renew}

    def next_charge_at(self) -> datetime | None:
        """When the next period of the term is charged; None once the term is paid for."""
        dates = charge_dates(self.term_start, self.terms)
        return dates[self.next_charge] if self.next_charge < len(dates) else None

    def charge_due(self, now: datetime) -> bool:
        """A period has begun and is not paid, and the plan bills (no charge overdue)."""
        at = self.next_charge_at()
        return at is not None and at <= now and self.status in BILLING

    def charge_key(self, plan_id: str) -> str:
        """The next charge's idempotency key: one ledger row per period, whatever the
        attempts (a dunning retry or a new card pays the same row)."""
        return step_key(f"plan:{plan_id}", f"term-{self.term_number}/charge-{self.next_charge + 1}")

    def paid(self) -> int:
        """The next period is paid: record it; answer its number in the term."""
        bounds = [*charge_dates(self.term_start, self.terms), self.term_ends_at]
        index = self.next_charge
        self.charges.append(Charge(self.terms.price, bounds[index], bounds[index + 1]))
        self.next_charge = index + 1
        return self.next_charge

    def charge_failed(self, now: datetime) -> None:
        self.failed_charge_at = now
        self.dunning_step = 0

    def paid_up(self) -> None:
        """The overdue charge is paid: dunning ends."""
        self.failed_charge_at = None
        self.dunning_step = 0

    def overdue(self, policy: Policy, now: datetime) -> Overdue | None:
        """What a past-due plan does now: suspend once grace is over, else retry on the
        dunning schedule's next step (one step at a time)."""
        if self.status is not PlanStatus.PAST_DUE or self.failed_charge_at is None:
            return None
        if now >= self.failed_charge_at + policy.grace_period:
            return Overdue.SUSPEND
        step = self.dunning_step
        if step < len(policy.dunning) and now >= self.failed_charge_at + policy.dunning[step]:
            return Overdue.RETRY
        return None

    def renew(self, terms: PlanTerms) -> None:
        """A new term on `terms` (the catalog's now) from the end of the current one."""
        self.term_start = self.term_ends_at
        self.terms = terms
        self.term_number += 1
        self.charges = []
        self.next_charge = 0
        self.renewal_notice_sent = False

    # ------------------------------------------------------------ claims and commands

    def claims_used(self, now: datetime) -> int:
        """Approved claims in the rolling 12 months up to `now`."""
        year_ago = add_months(now, -12)
        return sum(1 for at in self.approved_claims_at if at > year_ago)

    def new_claim(self, request: ClaimRequest, now: datetime) -> ClaimRecord:
        """The next claim, refused with the reason the plan's rules give (None when it may
        go on to its deductible)."""
        refusal = claim_refusal(
            status=self.status,
            now=now,
            enrolled_at=self.enrolled_at,
            terms=self.terms,
            incident=request.incident,
            approved_claims_at=self.approved_claims_at,
        )
        number = len(self.claims) + 1
        reason = None if refusal is None else refusal.value
        return ClaimRecord(number, now, request.type, request.incident, "refused", reason)

    def approve(self, claim: ClaimRecord) -> None:
        claim.decision = "approved"
        self.approved_claims_at.append(claim.at)
        self.any_approved_claim = True

    def refund_on_cancel(self, now: datetime, currency: str) -> Decimal:
        return cancellation_refund(
            now=now,
            enrolled_at=self.enrolled_at,
            terms=self.terms,
            charges=self.charges,
            any_approved_claim=self.any_approved_claim,
            currency=currency,
        )

    def answered(self, update_id: str | None) -> bool:
        """Whether this plan applied the update already in an earlier run: Temporal dedupes
        update ids within a run only, and a command retried with its Idempotency-Key after
        the plan continued as new must not apply twice."""
        return update_id is not None and update_id in self.applied_commands

    def remember(self, update_id: str | None, answer: ClaimAnswer | None) -> None:
        """Keep the update's id (and a claim's answer) for `answered`: the latest only,
        since retries come soon after."""
        if update_id is None:
            return
        self.applied_commands[update_id] = answer
        while len(self.applied_commands) > REMEMBERED_COMMANDS:
            del self.applied_commands[next(iter(self.applied_commands))]


@dataclass
class ServicePlanStart:
    plan_id: str
    org_id: str
    org_name: str
    tracking_token: str
    sku: str
    serial: str
    product_name: str
    category: str
    unit_price: Decimal
    policy: Policy
    public_base_url: str
    terms: PlanTerms
    payment_method: str
    customer: Customer
    # Set when a run continues as new: the plan's state so far.
    state: PlanState | None = None


@dataclass
class PlanView:
    plan_id: str
    status: PlanStatus
    term_ends_at: datetime | None = None
    next_charge_at: datetime | None = None
    claims_used: int = 0
    reason: str | None = None


@dataclass
class ClaimRequest:
    type: ClaimType
    incident: str
    description: str = ""
    # The child case's tracking token, drawn by the API (workflows draw no secrets).
    child_tracking_token: str = ""
    # Who claimed, for the timeline; None in histories recorded before it was carried.
    actor: Actor | None = None


@dataclass
class ClaimAnswer:
    decision: str  # "approved" or "refused"
    reason: ClaimRefusal | None = None
    repair_id: str | None = None
    replacement_id: str | None = None


@dataclass
class PaymentMethodChange:
    payment_method: str
    # Who changed it, for the timeline; None in histories recorded before it was carried.
    actor: Actor | None = None


@dataclass
class PlanCancel:
    reason: str = ""
    # Who cancelled, for the timeline; None in histories recorded before it was carried.
    actor: Actor | None = None


@dataclass
class CancelAnswer:
    refund: Decimal
    status: PlanStatus


@dataclass
class PlanTransfer:
    customer: Customer
    # The plan's new tracking token, drawn by the API (workflows draw no secrets): the
    # previous owner's link stops working. Empty from callers before this existed.
    tracking_token: str = ""
    # Who transferred it, for the timeline; None in histories recorded before it was carried.
    actor: Actor | None = None


@dataclass
class AssetMoved:
    """The covered unit was relocated: claims collect it from, and ship to, its new site."""

    site: Address
    relocation_id: str


# What a plan's main loop applies, one at a time, in turn.
PlanCommand = ClaimRequest | PaymentMethodChange | PlanCancel | PlanTransfer | AssetMoved
# What a command answers besides the plan's view: a claim's decision, a cancel's refund.
PlanAnswer = ClaimAnswer | CancelAnswer | None


@dataclass
class Handed:
    """A command and the update that carried it (None for the signal): a continued plan
    remembers the ids it applied (`PlanState.answered`), and only the handler can read it."""

    command: PlanCommand
    update_id: str | None


SERVICE_PLAN_WORKFLOW = "ServicePlan"
ASSET_MOVED_SIGNAL = "asset_moved"
PLAN_ACCEPT_UPDATE = "accept"
CLAIM_UPDATE = "claim"
PAYMENT_METHOD_UPDATE = "change_payment_method"
PLAN_CANCEL_UPDATE = "cancel"
TRANSFER_UPDATE = "transfer"
TERMINAL_PLAN_STATUSES = frozenset({PlanStatus.CANCELLED, PlanStatus.EXPIRED, PlanStatus.REJECTED})
# The statuses in which periods are charged as they begin (a past-due plan is dunned instead).
BILLING = frozenset({PlanStatus.ACTIVE, PlanStatus.WAITING_PERIOD})
# How many applied commands a plan remembers across runs (`PlanState.answered`).
REMEMBERED_COMMANDS = 50


def next_wake(state: PlanState, policy: Policy) -> datetime:
    """The next moment the plan's billing calendar has something to do: the term's end,
    the waiting period's, the renewal notice, the next charge, a dunning retry or grace's end."""
    moments: list[datetime] = [state.term_ends_at]
    if state.status is PlanStatus.WAITING_PERIOD:
        moments.append(state.enrolled_at + state.terms.waiting_period)
    if not state.renewal_notice_sent:
        moments.append(renewal_notice_at(state.term_start, state.terms))
    next_charge = state.next_charge_at()
    if next_charge is not None and state.status in BILLING:
        moments.append(next_charge)
    if state.status is PlanStatus.PAST_DUE and state.failed_charge_at is not None:
        moments.append(state.failed_charge_at + policy.grace_period)
        if state.dunning_step < len(policy.dunning):
            moments.append(state.failed_charge_at + policy.dunning[state.dunning_step])
    return min(moments)


def plan_view(plan_id: str, state: PlanState, now: datetime) -> PlanView:
    """What a plan's callers see of it at `now`."""
    return PlanView(
        plan_id=plan_id,
        status=state.status,
        term_ends_at=state.term_ends_at,
        next_charge_at=None if state.status in TERMINAL_PLAN_STATUSES else state.next_charge_at(),
        claims_used=state.claims_used(now),
    )


def coverage_certificate(
    start: ServicePlanStart, state: PlanState, issued_for: str
) -> CoverageCertificateData:
    """The Certificate of Coverage numbered `state.certificates`, for the current term and
    owner; the documents activity fills in its verification code."""
    currency = start.policy.currency
    return CoverageCertificateData(
        certificate_number=f"CC-{start.plan_id.split('-', 1)[1]}-{state.certificates}",
        plan_number=start.plan_id,
        retailer_name=start.org_name,
        plan_name=state.terms.name,
        plan_code=state.terms.code,
        owner_name=state.customer.name,
        product_name=start.product_name,
        sku=start.sku,
        serial=start.serial,
        term_starts_on=long_date(state.term_start),
        term_ends_on=long_date(term_end(state.term_start, state.terms)),
        claim_limit=f"{state.terms.claim_limit} claims per 12 months",
        deductibles=[
            (kind.value.capitalize(), f"{money_text(amount, currency)} {currency}")
            for kind, amount in sorted(state.terms.deductibles.items())
        ],
        incidents=sorted(i.replace("_", " ") for i in state.terms.incidents),
        issued_for=issued_for,
        verification_code="",
        verify_url="",
    )
