"""Service-plan rules (lifecycles.md §5): billing calendar, claims over a rolling 12 months,
and the cancellation refund, with property tests where there is arithmetic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.durations import add_months
from domain.money import minor_units
from domain.service_plan import (
    BillingPeriod,
    Charge,
    ClaimRefusal,
    PlanStatus,
    PlanTerms,
    cancellation_refund,
    charge_dates,
    claim_refusal,
    period_containing,
    prorated,
    renewal_notice_at,
    term_end,
)

START = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def terms(**changes: object) -> PlanTerms:
    base: dict[str, object] = {
        "code": "CARE-36",
        "name": "Care 36",
        "term_months": 36,
        "billing_period": BillingPeriod.MONTHLY,
        "price": Decimal("9.99"),
        "claim_limit": 2,
        "waiting_period": timedelta(days=14),
        "incidents": frozenset({"accidental_damage", "breakdown"}),
        "cancel_full_refund_within": timedelta(days=30),
    }
    base.update(changes)
    return PlanTerms(**base)  # type: ignore[arg-type]


moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
amounts = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("99999.99"), places=2)


# ------------------------------------------------------------------------- billing


def test_monthly_dates_follow_the_calendar_without_drift() -> None:
    dates = charge_dates(START, terms())
    assert len(dates) == 36
    assert dates[0] == START
    # Jan 31 → Feb 28 → Mar 31: each is counted from the start, not from the clamped one.
    assert [d.date().isoformat() for d in dates[:3]] == ["2026-01-31", "2026-02-28", "2026-03-31"]
    assert dates[-1].date().isoformat() == "2028-12-31"
    assert term_end(START, terms()).date().isoformat() == "2029-01-31"


def test_annual_and_upfront_dates() -> None:
    annual = charge_dates(START, terms(billing_period=BillingPeriod.ANNUAL))
    assert [d.year for d in annual] == [2026, 2027, 2028]
    assert charge_dates(START, terms(billing_period=BillingPeriod.UPFRONT)) == [START]


@pytest.mark.parametrize(
    "bad",
    [
        {"term_months": 0},
        {"billing_period": BillingPeriod.ANNUAL, "term_months": 18},
        {"price": Decimal("-1")},
        {"claim_limit": -1},
    ],
)
def test_impossible_terms_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        terms(**bad)


@given(start=moments, months=st.integers(1, 120), period=st.sampled_from(list(BillingPeriod)))
def test_every_moment_of_a_term_is_in_exactly_one_paid_period(
    start: datetime, months: int, period: BillingPeriod
) -> None:
    if period is BillingPeriod.ANNUAL:
        months = max(12, months - months % 12)
    plan = terms(term_months=months, billing_period=period)
    dates = charge_dates(start, plan)
    step = {BillingPeriod.MONTHLY: 1, BillingPeriod.ANNUAL: 12}.get(period, months)
    assert dates == [add_months(start, k) for k in range(0, months, step)]
    assert dates == sorted(set(dates))
    end = term_end(start, plan)
    for moment in (start, end - timedelta(microseconds=1), *dates):
        period_start, period_end = period_containing(moment, start, plan)
        assert period_start <= moment < period_end
        assert period_start in dates
    with pytest.raises(ValueError):
        period_containing(end, start, plan)


def test_renewal_notice_is_thirty_days_before_the_end() -> None:
    assert term_end(START, terms()) - renewal_notice_at(START, terms()) == timedelta(days=30)
    # A plan's own notice period replaces the default (a demo plan: told at once).
    week = terms(renewal_notice=timedelta(days=7))
    assert term_end(START, week) - renewal_notice_at(START, week) == timedelta(days=7)
    short = terms(term_months=1, renewal_notice=timedelta(days=40))
    assert renewal_notice_at(START, short) < START


# -------------------------------------------------------------------------- claims


def refusal(status: PlanStatus = PlanStatus.ACTIVE, **kw: object) -> ClaimRefusal | None:
    args: dict[str, object] = {
        "status": status,
        "now": START + timedelta(days=60),
        "enrolled_at": START,
        "terms": terms(),
        "incident": "breakdown",
        "approved_claims_at": [],
    }
    args.update(kw)
    return claim_refusal(**args)  # type: ignore[arg-type]


def test_claims_are_refused_with_each_reason_and_otherwise_go_on() -> None:
    assert refusal() is None
    assert refusal(PlanStatus.WAITING_PERIOD) is ClaimRefusal.WAITING_PERIOD
    assert refusal(now=START + timedelta(days=13)) is ClaimRefusal.WAITING_PERIOD
    for status in (PlanStatus.PAST_DUE, PlanStatus.SUSPENDED, PlanStatus.CANCELLED):
        assert refusal(status) is ClaimRefusal.PLAN_NOT_ACTIVE
    assert refusal(incident="theft") is ClaimRefusal.NOT_COVERED
    assert refusal(terms=terms(incidents=frozenset()), incident="theft") is None


def test_the_claim_limit_counts_a_rolling_twelve_months() -> None:
    now = START + timedelta(days=500)
    inside = [add_months(now, -12) + timedelta(days=1), now - timedelta(days=3)]
    assert refusal(now=now, approved_claims_at=inside) is ClaimRefusal.CLAIM_LIMIT_REACHED
    # One of them a day older than 12 months: it no longer counts.
    aged = [add_months(now, -12) - timedelta(days=1), now - timedelta(days=3)]
    assert refusal(now=now, approved_claims_at=aged) is None
    assert refusal(terms=terms(claim_limit=0)) is ClaimRefusal.CLAIM_LIMIT_REACHED


# ---------------------------------------------------------------------- cancelling


def paid(plan: PlanTerms, upto: datetime) -> list[Charge]:
    dates = [*charge_dates(START, plan), term_end(START, plan)]
    return [
        Charge(plan.price, start, end) for start, end in itertools.pairwise(dates) if start <= upto
    ]


def test_inside_the_window_without_a_claim_everything_comes_back() -> None:
    plan = terms(billing_period=BillingPeriod.ANNUAL, price=Decimal("120.00"))
    now = START + timedelta(days=29)
    refund = cancellation_refund(
        now=now,
        enrolled_at=START,
        terms=plan,
        charges=paid(plan, now),
        any_approved_claim=False,
        currency="USD",
    )
    assert refund == Decimal("120.00")


def test_after_a_claim_or_the_window_only_the_unused_days_come_back() -> None:
    plan = terms(billing_period=BillingPeriod.ANNUAL, price=Decimal("365.00"), term_months=12)
    # 2026-01-31 → 2027-01-31 is 365 days; cancelling on day 10 (day 10 used) leaves 355.
    now = START + timedelta(days=9)
    charges = paid(plan, now)
    with_claim = cancellation_refund(
        now=now,
        enrolled_at=START,
        terms=plan,
        charges=charges,
        any_approved_claim=True,
        currency="USD",
    )
    assert with_claim == Decimal("355.00")
    later = START + timedelta(days=40)  # past the 30-day window: day 41 used, 324 left
    assert cancellation_refund(
        now=later,
        enrolled_at=START,
        terms=plan,
        charges=charges,
        any_approved_claim=False,
        currency="USD",
    ) == Decimal("324.00")


def test_a_period_not_paid_gives_nothing_back() -> None:
    plan = terms()
    now = START + timedelta(days=70)
    unpaid = paid(plan, START + timedelta(days=1))  # only January was paid
    assert cancellation_refund(
        now=now,
        enrolled_at=START,
        terms=plan,
        charges=unpaid,
        any_approved_claim=True,
        currency="USD",
    ) == Decimal("0.00")


@given(
    amount=amounts,
    start=moments,
    days=st.integers(1, 400),
    offset=st.integers(0, 400),
)
def test_proration_never_pays_more_than_paid_and_matches_integer_cents(
    amount: Decimal, start: datetime, days: int, offset: int
) -> None:
    end = start + timedelta(days=days)
    now = start + timedelta(days=min(offset, days))
    refund = prorated(amount, start, end, now, "USD")
    total = (end.date() - start.date()).days
    used = min(total, (now.date() - start.date()).days + 1)
    # Oracle in integer cents: floor(cents * unused / total).
    cents = int(amount * 100)
    assert refund == Decimal(cents * max(0, total - used) // total) / 100
    assert Decimal(0) <= refund <= amount
    assert refund == refund.quantize(Decimal("0.01"))


@given(amount=amounts, start=moments, days=st.integers(1, 400), a=st.integers(0, 400))
def test_proration_shrinks_as_the_period_is_used(
    amount: Decimal, start: datetime, days: int, a: int
) -> None:
    end = start + timedelta(days=days)
    earlier = start + timedelta(days=min(a, days))
    later = earlier + timedelta(days=1)
    assert prorated(amount, start, end, later, "USD") <= prorated(
        amount, start, end, earlier, "USD"
    )
    assert prorated(amount, start, end, end - timedelta(microseconds=1), "USD") == Decimal("0.00")


# The currency's own minor unit: 2026-01-31 → 2027-01-31 is 365 days; cancelling on day 41
# leaves 324, so the share is price * 324 / 365, rounded down (half up would give one more).
@pytest.mark.parametrize(
    ("currency", "price", "refund"),
    [("USD", "45.00", "39.94"), ("JPY", "4500", "3994"), ("KWD", "4.500", "3.994")],
)
def test_a_prorated_refund_is_floored_to_the_currencys_minor_unit(
    currency: str, price: str, refund: str
) -> None:
    plan = terms(billing_period=BillingPeriod.ANNUAL, price=Decimal(price), term_months=12)
    now = START + timedelta(days=40)
    answer = cancellation_refund(
        now=now,
        enrolled_at=START,
        terms=plan,
        charges=paid(plan, now),
        any_approved_claim=False,
        currency=currency,
    )
    assert (answer, answer.as_tuple().exponent) == (Decimal(refund), -minor_units(currency))


def test_an_unpaid_period_gives_nothing_back_in_the_currencys_minor_unit() -> None:
    plan = terms(price=Decimal("1000"))
    unpaid = paid(plan, START + timedelta(days=1))
    refund = cancellation_refund(
        now=START + timedelta(days=70),
        enrolled_at=START,
        terms=plan,
        charges=unpaid,
        any_approved_claim=True,
        currency="JPY",
    )
    assert (refund, refund.as_tuple().exponent) == (Decimal(0), 0)


@st.composite
def priced(draw: st.DrawFn) -> tuple[str, int]:
    """A currency and an amount of it counted in its minor units (up to 10 million)."""
    return draw(st.sampled_from(["USD", "JPY", "KWD"])), draw(st.integers(0, 10**7))


@given(price=priced(), start=moments, days=st.integers(1, 400), offset=st.integers(0, 400))
def test_proration_matches_integer_minor_units_in_every_currency(
    price: tuple[str, int], start: datetime, days: int, offset: int
) -> None:
    currency, units = price
    places = minor_units(currency)
    amount = Decimal(units).scaleb(-places)
    end = start + timedelta(days=days)
    now = start + timedelta(days=min(offset, days))
    refund = prorated(amount, start, end, now, currency)
    total = (end.date() - start.date()).days
    unused = max(0, total - min(total, (now.date() - start.date()).days + 1))
    # Oracle in integer minor units: floor(units * unused / total).
    assert refund == Decimal(units * unused // total).scaleb(-places)
    assert refund.as_tuple().exponent == -places
    assert Decimal(0) <= refund <= amount
