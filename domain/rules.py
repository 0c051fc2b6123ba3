"""Pure business rules: given facts, a decision. No I/O, no clock of their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.common import Policy
from domain.durations import add_months
from domain.money import money_text, to_cents
from domain.rma import (
    Coverage,
    Grade,
    RejectReason,
    Resolution,
    RmaItem,
    RmaStart,
    RmaState,
    RmaStatus,
)


class Decision(StrEnum):
    AUTHORIZED = "authorized"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Authorization:
    decision: Decision
    reason: RejectReason | None = None
    coverage: Coverage | None = None

    def state(self) -> RmaState:
        """The RMA as this decision leaves it: waiting for its parcel, for the retailer's
        review, or rejected; with the coverage and the reason recorded."""
        reason = self.reason.value if self.reason else None
        return RmaState(_STATUS_AFTER[self.decision], self.coverage, reason)

    def detail(self) -> dict[str, str]:
        """The timeline detail of the decision."""
        detail = {"coverage": self.coverage.value} if self.coverage else {}
        if self.reason:
            detail["reason"] = self.reason.value
        return detail


_STATUS_AFTER = {
    Decision.AUTHORIZED: RmaStatus.AWAITING_RETURN,
    Decision.PENDING_REVIEW: RmaStatus.PENDING_REVIEW,
    Decision.REJECTED: RmaStatus.REJECTED,
}
# The decision when the database's claim finds a serial held by another open case: the
# one-open-case rule, made atomic (requests racing for one unit all pass the API's look).
SERIAL_HELD_ELSEWHERE = Authorization(Decision.REJECTED, RejectReason.DUPLICATE_OPEN_CASE)


def purchase_date_is_valid(purchased_at: datetime, now: datetime) -> bool:
    return purchased_at <= now


def item_coverage(
    item: RmaItem, purchased_at: datetime, now: datetime, policy: Policy, has_plan: bool
) -> Coverage | None:
    """The best coverage one item has, or None when nothing covers it."""
    if now - purchased_at <= policy.return_window:
        return Coverage.RETURN_WINDOW
    if item.warranty_months > 0 and now < add_months(purchased_at, item.warranty_months):
        return Coverage.WARRANTY
    if has_plan:
        return Coverage.SERVICE_PLAN
    return None


_COVERAGE_RANK = [Coverage.RETURN_WINDOW, Coverage.WARRANTY, Coverage.SERVICE_PLAN, Coverage.PAID]


def authorize_rma(start: RmaStart, now: datetime) -> Authorization:
    """The authorization of the RMA as started, on the facts the API gathered with it."""
    return authorize(
        resolution=start.resolution,
        purchased_at=start.purchased_at,
        now=now,
        items=start.items,
        policy=start.policy,
        serials_with_open_cases=start.serials_with_open_cases,
        serials_with_active_plans=start.serials_with_active_plans,
        goodwill=bool(start.goodwill_reason),
    )


def authorize(
    *,
    resolution: Resolution,
    purchased_at: datetime,
    now: datetime,
    items: list[RmaItem],
    policy: Policy,
    serials_with_open_cases: list[str],
    serials_with_active_plans: list[str],
    goodwill: bool = False,
) -> Authorization:
    """The RMA authorization rules of lifecycles.md §1, in their order. Goodwill skips the
    return window and coverage checks (coverage `goodwill`); the others still hold."""
    if not purchase_date_is_valid(purchased_at, now):
        return Authorization(Decision.REJECTED, RejectReason.INVALID_PURCHASE_DATE)
    open_serials = set(serials_with_open_cases)
    if any(item.serial in open_serials for item in items):
        return Authorization(Decision.REJECTED, RejectReason.DUPLICATE_OPEN_CASE)
    if goodwill:
        return _by_value(items, policy, Coverage.GOODWILL)
    if resolution is Resolution.REFUND and now - purchased_at > policy.return_window:
        return Authorization(Decision.REJECTED, RejectReason.OUTSIDE_RETURN_WINDOW)

    plan_serials = set(serials_with_active_plans)
    coverages = [
        item_coverage(item, purchased_at, now, policy, item.serial in plan_serials)
        for item in items
    ]
    if any(c is None for c in coverages):
        if resolution is Resolution.REPAIR:
            coverage = Coverage.PAID
        else:
            return Authorization(Decision.REJECTED, RejectReason.NOT_COVERED)
    else:
        # The case is only as covered as its least-covered item.
        coverage = max((c for c in coverages if c is not None), key=_COVERAGE_RANK.index)
    return _by_value(items, policy, coverage)


def _by_value(items: list[RmaItem], policy: Policy, coverage: Coverage) -> Authorization:
    """Authorized, or held for the retailer's review above its threshold."""
    total = sum((item.value for item in items), Decimal(0))
    if total > policy.review_threshold:
        return Authorization(Decision.PENDING_REVIEW, coverage=coverage)
    return Authorization(Decision.AUTHORIZED, coverage=coverage)


class Disposition(StrEnum):
    REFUND_FULL = "refund_full"
    REFUND_LESS_RESTOCKING = "refund_less_restocking"
    SHIP_BACK = "ship_back"
    REPLACEMENT = "replacement"
    REPAIR = "repair"


@dataclass(frozen=True)
class DispositionResult:
    disposition: Disposition
    coverage: Coverage | None = None  # set when inspection changes the coverage


def disposition(
    resolution: Resolution, grade: Grade, serial_matches: bool, coverage: Coverage | None
) -> DispositionResult:
    """What inspection leads to (lifecycles.md §1.5)."""
    if not serial_matches:
        return DispositionResult(Disposition.SHIP_BACK)
    if resolution is Resolution.REPAIR:
        return DispositionResult(
            Disposition.REPAIR, Coverage.PAID if grade is Grade.C else coverage
        )
    if grade is Grade.C:
        return DispositionResult(Disposition.SHIP_BACK)
    if resolution is Resolution.REPLACEMENT:
        return DispositionResult(Disposition.REPLACEMENT)
    if grade is Grade.B:
        return DispositionResult(Disposition.REFUND_LESS_RESTOCKING)
    return DispositionResult(Disposition.REFUND_FULL)


@dataclass(frozen=True)
class RefundBreakdown:
    gross: Decimal
    restocking_fee: Decimal
    refund: Decimal

    def detail(self, currency: str) -> dict[str, str]:
        """The timeline detail of the refund."""
        return {
            "amount": money_text(self.refund, currency),
            "restocking_fee": money_text(self.restocking_fee, currency),
            "currency": currency,
        }


def refund_of(
    start: RmaStart, disposition: Disposition, fee_waived: bool = False
) -> RefundBreakdown:
    """The refund of the RMA's items for a refund disposition: in full, or less the
    restocking fee unless the retailer waived it."""
    gross = sum((item.value for item in start.items), Decimal(0))
    less_restocking = disposition is Disposition.REFUND_LESS_RESTOCKING and not fee_waived
    return refund_breakdown(
        gross, start.policy.restocking_fee_percent, less_restocking, start.policy.currency
    )


def refund_breakdown(
    gross: Decimal, fee_percent: Decimal, apply_fee: bool, currency: str = "USD"
) -> RefundBreakdown:
    """Refund of `gross`, less the restocking fee (rounded half up to the currency's minor
    unit: the cent, the yen) when it applies."""
    gross, zero = to_cents(gross, currency), to_cents(Decimal(0), currency)
    fee = to_cents(gross * fee_percent / Decimal(100), currency) if apply_fee else zero
    fee = min(max(fee, zero), gross)
    return RefundBreakdown(gross=gross, restocking_fee=fee, refund=gross - fee)
