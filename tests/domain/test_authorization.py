"""RMA authorization rules (lifecycles.md §1.1): every branch of `domain.rules.authorize`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain.common import Policy
from domain.rma import Coverage, RejectReason, Resolution, ReturnReason, RmaItem
from domain.rules import Authorization, Decision, authorize

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DEFAULT_WINDOW = timedelta(days=30)  # api.md: return_window [P30D]
OUTSIDE_WINDOW = NOW - timedelta(days=90)  # outside the default window, inside 12 months

ALL_RESOLUTIONS = list(Resolution)


def item(
    serial: str = "SN-1",
    unit_price: str = "100.00",
    quantity: int = 1,
    warranty_months: int = 0,
) -> RmaItem:
    return RmaItem(
        sku=f"SKU-{serial}",
        serial=serial,
        quantity=quantity,
        reason=ReturnReason.DEFECTIVE,
        unit_price=Decimal(unit_price),
        warranty_months=warranty_months,
    )


def decide(
    resolution: Resolution,
    purchased_at: datetime,
    items: list[RmaItem] | None = None,
    *,
    policy: Policy | None = None,
    now: datetime = NOW,
    open_cases: tuple[str, ...] = (),
    plans: tuple[str, ...] = (),
) -> Authorization:
    return authorize(
        resolution=resolution,
        purchased_at=purchased_at,
        now=now,
        items=items if items is not None else [item()],
        policy=policy if policy is not None else Policy(),
        serials_with_open_cases=list(open_cases),
        serials_with_active_plans=list(plans),
    )


def rejected(reason: RejectReason) -> Authorization:
    return Authorization(Decision.REJECTED, reason=reason, coverage=None)


def authorized(coverage: Coverage) -> Authorization:
    return Authorization(Decision.AUTHORIZED, reason=None, coverage=coverage)


def pending(coverage: Coverage) -> Authorization:
    return Authorization(Decision.PENDING_REVIEW, reason=None, coverage=coverage)


def test_policy_defaults_match_the_api_spec() -> None:
    # The other tests lean on these defaults: P30D window, 1000.00 review threshold.
    policy = Policy()
    assert policy.return_window == DEFAULT_WINDOW
    assert policy.review_threshold == Decimal("1000.00")


# --- invalid_purchase_date ------------------------------------------------------------------


@pytest.mark.parametrize("resolution", ALL_RESOLUTIONS)
@pytest.mark.parametrize("ahead", [timedelta(seconds=1), timedelta(days=1), timedelta(days=400)])
def test_future_purchase_date_is_rejected(resolution: Resolution, ahead: timedelta) -> None:
    assert decide(resolution, NOW + ahead) == rejected(RejectReason.INVALID_PURCHASE_DATE)


def test_future_purchase_date_is_checked_before_duplicates() -> None:
    decision = decide(Resolution.REFUND, NOW + timedelta(days=1), open_cases=("SN-1",))
    assert decision == rejected(RejectReason.INVALID_PURCHASE_DATE)


def test_purchase_at_this_very_moment_is_valid() -> None:
    assert decide(Resolution.REFUND, NOW) == authorized(Coverage.RETURN_WINDOW)


def test_purchase_date_in_another_timezone_is_compared_as_an_instant() -> None:
    # 13:00 at UTC+2 is 11:00 UTC: an hour before NOW, so not in the future.
    plus_two = timezone(timedelta(hours=2))
    assert decide(Resolution.REFUND, datetime(2026, 6, 15, 13, 0, tzinfo=plus_two)) == authorized(
        Coverage.RETURN_WINDOW
    )
    # 13:00 at UTC-2 is 15:00 UTC: in the future.
    minus_two = timezone(timedelta(hours=-2))
    assert decide(Resolution.REFUND, datetime(2026, 6, 15, 13, 0, tzinfo=minus_two)) == rejected(
        RejectReason.INVALID_PURCHASE_DATE
    )


# --- duplicate_open_case --------------------------------------------------------------------


@pytest.mark.parametrize("resolution", ALL_RESOLUTIONS)
def test_serial_with_an_open_case_is_a_duplicate(resolution: Resolution) -> None:
    decision = decide(resolution, NOW - timedelta(days=1), open_cases=("SN-1",))
    assert decision == rejected(RejectReason.DUPLICATE_OPEN_CASE)


def test_any_item_with_an_open_case_makes_the_case_a_duplicate() -> None:
    items = [item("SN-1"), item("SN-2"), item("SN-3")]
    decision = decide(Resolution.REFUND, NOW - timedelta(days=1), items, open_cases=("SN-3",))
    assert decision == rejected(RejectReason.DUPLICATE_OPEN_CASE)


def test_open_cases_on_other_serials_do_not_matter() -> None:
    decision = decide(Resolution.REFUND, NOW - timedelta(days=1), open_cases=("SN-9", "SN-10"))
    assert decision == authorized(Coverage.RETURN_WINDOW)


def test_duplicate_wins_over_outside_return_window() -> None:
    # Both rules fail for this refund; duplicate_open_case comes first in §1.1.
    decision = decide(Resolution.REFUND, OUTSIDE_WINDOW, open_cases=("SN-1",))
    assert decision == rejected(RejectReason.DUPLICATE_OPEN_CASE)


def test_duplicate_wins_over_not_covered() -> None:
    decision = decide(Resolution.REPLACEMENT, NOW - timedelta(days=800), open_cases=("SN-1",))
    assert decision == rejected(RejectReason.DUPLICATE_OPEN_CASE)


# --- outside_return_window ------------------------------------------------------------------


@pytest.mark.parametrize(
    "age",
    [
        DEFAULT_WINDOW + timedelta(seconds=1),
        DEFAULT_WINDOW + timedelta(days=1),
        timedelta(days=365),
    ],
)
def test_refund_outside_return_window_is_rejected(age: timedelta) -> None:
    assert decide(Resolution.REFUND, NOW - age) == rejected(RejectReason.OUTSIDE_RETURN_WINDOW)


def test_refund_outside_window_is_rejected_even_with_warranty_and_plan() -> None:
    # Warranty and service plans cover replacement and repair, never a refund.
    decision = decide(
        Resolution.REFUND, OUTSIDE_WINDOW, [item(warranty_months=24)], plans=("SN-1",)
    )
    assert decision == rejected(RejectReason.OUTSIDE_RETURN_WINDOW)


def test_refund_exactly_at_the_window_edge_is_allowed() -> None:
    purchased_at = NOW - DEFAULT_WINDOW
    assert NOW - purchased_at == Policy().return_window
    assert decide(Resolution.REFUND, purchased_at) == authorized(Coverage.RETURN_WINDOW)


@pytest.mark.parametrize("resolution", [Resolution.REPLACEMENT, Resolution.REPAIR])
def test_window_edge_still_counts_as_return_window_for_other_resolutions(
    resolution: Resolution,
) -> None:
    assert decide(resolution, NOW - DEFAULT_WINDOW) == authorized(Coverage.RETURN_WINDOW)


# --- coverage -------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", ALL_RESOLUTIONS)
def test_inside_return_window_coverage_is_return_window(resolution: Resolution) -> None:
    assert decide(resolution, NOW - timedelta(days=10)) == authorized(Coverage.RETURN_WINDOW)


@pytest.mark.parametrize("resolution", ALL_RESOLUTIONS)
def test_return_window_is_preferred_over_warranty_and_plan(resolution: Resolution) -> None:
    decision = decide(
        resolution, NOW - timedelta(days=10), [item(warranty_months=12)], plans=("SN-1",)
    )
    assert decision == authorized(Coverage.RETURN_WINDOW)


@pytest.mark.parametrize("resolution", [Resolution.REPLACEMENT, Resolution.REPAIR])
def test_outside_window_inside_warranty_is_covered_by_warranty(resolution: Resolution) -> None:
    decision = decide(resolution, OUTSIDE_WINDOW, [item(warranty_months=12)])
    assert decision == authorized(Coverage.WARRANTY)


@pytest.mark.parametrize("resolution", [Resolution.REPLACEMENT, Resolution.REPAIR])
def test_warranty_is_preferred_over_a_service_plan(resolution: Resolution) -> None:
    decision = decide(resolution, OUTSIDE_WINDOW, [item(warranty_months=12)], plans=("SN-1",))
    assert decision == authorized(Coverage.WARRANTY)


def test_warranty_counts_calendar_months_not_thirty_day_blocks() -> None:
    purchased_at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    twelve_months = [item(warranty_months=12)]
    # 362 days later: beyond 12 * 30 days, still inside 12 calendar months (ends 2027-01-15).
    inside = datetime(2027, 1, 12, 12, 0, tzinfo=UTC)
    assert decide(Resolution.REPLACEMENT, purchased_at, twelve_months, now=inside) == authorized(
        Coverage.WARRANTY
    )
    # A day past the anniversary: the warranty is over.
    after = datetime(2027, 1, 16, 12, 0, tzinfo=UTC)
    assert decide(Resolution.REPLACEMENT, purchased_at, twelve_months, now=after) == rejected(
        RejectReason.NOT_COVERED
    )


def test_warranty_expired_is_not_warranty() -> None:
    decision = decide(Resolution.REPLACEMENT, NOW - timedelta(days=400), [item(warranty_months=12)])
    assert decision == rejected(RejectReason.NOT_COVERED)


@pytest.mark.parametrize("resolution", [Resolution.REPLACEMENT, Resolution.REPAIR])
def test_outside_window_and_warranty_with_active_plan_is_service_plan(
    resolution: Resolution,
) -> None:
    purchased_at = NOW - timedelta(days=800)
    decision = decide(resolution, purchased_at, [item(warranty_months=12)], plans=("SN-1",))
    assert decision == authorized(Coverage.SERVICE_PLAN)


def test_a_plan_on_another_serial_does_not_cover() -> None:
    decision = decide(Resolution.REPLACEMENT, OUTSIDE_WINDOW, plans=("SN-2",))
    assert decision == rejected(RejectReason.NOT_COVERED)


def test_replacement_with_nothing_is_not_covered() -> None:
    decision = decide(Resolution.REPLACEMENT, OUTSIDE_WINDOW, [item(warranty_months=0)])
    assert decision == rejected(RejectReason.NOT_COVERED)


def test_repair_with_nothing_is_authorized_as_paid() -> None:
    decision = decide(Resolution.REPAIR, OUTSIDE_WINDOW, [item(warranty_months=0)])
    assert decision == authorized(Coverage.PAID)


# --- multi-item: the case is only as covered as its least-covered item --------------------

WARRANTY_ITEM = item("SN-W", warranty_months=24)
PLAN_ITEM = item("SN-P", warranty_months=0)  # its serial is given an active plan below
BARE_ITEM = item("SN-N", warranty_months=0)


@pytest.mark.parametrize(
    ("resolution", "items", "expected"),
    [
        (Resolution.REPLACEMENT, [WARRANTY_ITEM, WARRANTY_ITEM], authorized(Coverage.WARRANTY)),
        (Resolution.REPLACEMENT, [WARRANTY_ITEM, PLAN_ITEM], authorized(Coverage.SERVICE_PLAN)),
        (Resolution.REPAIR, [WARRANTY_ITEM, PLAN_ITEM], authorized(Coverage.SERVICE_PLAN)),
        (Resolution.REPAIR, [WARRANTY_ITEM, BARE_ITEM], authorized(Coverage.PAID)),
        (Resolution.REPAIR, [PLAN_ITEM, BARE_ITEM], authorized(Coverage.PAID)),
        (Resolution.REPAIR, [WARRANTY_ITEM, PLAN_ITEM, BARE_ITEM], authorized(Coverage.PAID)),
        (Resolution.REPLACEMENT, [WARRANTY_ITEM, BARE_ITEM], rejected(RejectReason.NOT_COVERED)),
        (Resolution.REPLACEMENT, [PLAN_ITEM, BARE_ITEM], rejected(RejectReason.NOT_COVERED)),
    ],
    ids=[
        "W+W",
        "W+P",
        "repair-W+P",
        "repair-W+N",
        "repair-P+N",
        "repair-W+P+N",
        "replacement-W+N",
        "replacement-P+N",
    ],
)
def test_multi_item_case_gets_the_weakest_coverage(
    resolution: Resolution, items: list[RmaItem], expected: Authorization
) -> None:
    # Whatever the order of the items.
    for ordered in (items, list(reversed(items))):
        assert decide(resolution, OUTSIDE_WINDOW, ordered, plans=("SN-P",)) == expected


@pytest.mark.parametrize("resolution", ALL_RESOLUTIONS)
def test_multi_item_inside_window_is_return_window(resolution: Resolution) -> None:
    items = [WARRANTY_ITEM, PLAN_ITEM, BARE_ITEM]
    decision = decide(resolution, NOW - timedelta(days=3), items, plans=("SN-P",))
    assert decision == authorized(Coverage.RETURN_WINDOW)


# --- review threshold -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "items",
    [
        [item(unit_price="1000.01")],
        [item("SN-1", unit_price="500.01", quantity=2)],  # only above once quantity counts
        [item("SN-1", unit_price="400.00", quantity=2), item("SN-2", unit_price="200.01")],
        [
            item("SN-1", unit_price="999.99"),
            item("SN-2", unit_price="0.01"),
            item("SN-3", unit_price="0.01"),
        ],
    ],
    ids=["single", "quantity", "sum", "sum-by-cents"],
)
def test_value_above_threshold_needs_review(items: list[RmaItem]) -> None:
    decision = decide(Resolution.REFUND, NOW - timedelta(days=1), items)
    assert decision == pending(Coverage.RETURN_WINDOW)


@pytest.mark.parametrize(
    ("resolution", "purchased_at", "warranty", "plans", "coverage"),
    [
        (Resolution.REFUND, NOW - timedelta(days=1), 0, (), Coverage.RETURN_WINDOW),
        (Resolution.REPLACEMENT, OUTSIDE_WINDOW, 12, (), Coverage.WARRANTY),
        (Resolution.REPLACEMENT, NOW - timedelta(days=800), 0, ("SN-1",), Coverage.SERVICE_PLAN),
        (Resolution.REPAIR, NOW - timedelta(days=800), 0, (), Coverage.PAID),
    ],
)
def test_pending_review_keeps_the_coverage(
    resolution: Resolution,
    purchased_at: datetime,
    warranty: int,
    plans: tuple[str, ...],
    coverage: Coverage,
) -> None:
    items = [item(unit_price="1500.00", warranty_months=warranty)]
    assert decide(resolution, purchased_at, items, plans=plans) == pending(coverage)


@pytest.mark.parametrize(
    "items",
    [
        [item(unit_price="1000.00")],
        [item("SN-1", unit_price="250.00", quantity=4)],
        [item("SN-1", unit_price="999.99"), item("SN-2", unit_price="0.01")],
    ],
    ids=["single", "quantity", "sum"],
)
def test_value_exactly_at_threshold_is_authorized(items: list[RmaItem]) -> None:
    decision = decide(Resolution.REFUND, NOW - timedelta(days=1), items)
    assert decision == authorized(Coverage.RETURN_WINDOW)


def test_rejections_win_over_review() -> None:
    expensive = [item(unit_price="5000.00")]
    assert decide(Resolution.REFUND, OUTSIDE_WINDOW, expensive) == rejected(
        RejectReason.OUTSIDE_RETURN_WINDOW
    )
    assert decide(Resolution.REPLACEMENT, OUTSIDE_WINDOW, expensive) == rejected(
        RejectReason.NOT_COVERED
    )
    assert decide(Resolution.REFUND, NOW, expensive, open_cases=("SN-1",)) == rejected(
        RejectReason.DUPLICATE_OPEN_CASE
    )


# --- a retailer's own policy ----------------------------------------------------------------


def test_custom_return_window_is_honoured() -> None:
    week = Policy(return_window=timedelta(days=7))
    ten_days_ago = NOW - timedelta(days=10)
    # The default 30-day window would have allowed it.
    assert decide(Resolution.REFUND, ten_days_ago) == authorized(Coverage.RETURN_WINDOW)
    assert decide(Resolution.REFUND, ten_days_ago, policy=week) == rejected(
        RejectReason.OUTSIDE_RETURN_WINDOW
    )
    assert decide(Resolution.REFUND, NOW - timedelta(days=7), policy=week) == authorized(
        Coverage.RETURN_WINDOW
    )
    # Outside the short window a replacement falls back to the warranty.
    decision = decide(Resolution.REPLACEMENT, ten_days_ago, [item(warranty_months=12)], policy=week)
    assert decision == authorized(Coverage.WARRANTY)


def test_longer_custom_return_window_is_honoured() -> None:
    ninety_days = Policy(return_window=timedelta(days=90))
    assert decide(Resolution.REFUND, OUTSIDE_WINDOW, policy=ninety_days) == authorized(
        Coverage.RETURN_WINDOW
    )


def test_custom_review_threshold_is_honoured() -> None:
    low = Policy(review_threshold=Decimal("50.00"))
    purchased_at = NOW - timedelta(days=1)
    assert decide(Resolution.REFUND, purchased_at, [item(unit_price="50.01")], policy=low) == (
        pending(Coverage.RETURN_WINDOW)
    )
    assert decide(Resolution.REFUND, purchased_at, [item(unit_price="50.00")], policy=low) == (
        authorized(Coverage.RETURN_WINDOW)
    )
    high = Policy(review_threshold=Decimal("5000.00"))
    assert decide(Resolution.REFUND, purchased_at, [item(unit_price="1500.00")], policy=high) == (
        authorized(Coverage.RETURN_WINDOW)
    )
