"""Refund less the restocking fee: `domain.rules.refund_breakdown` (lifecycles.md §1.5)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.common import Policy
from domain.rules import refund_breakdown

grosses = st.decimals(
    min_value=Decimal("0"),
    max_value=Decimal("100000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
percents = st.decimals(
    min_value=Decimal("0"),
    max_value=Decimal("100"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


def cents(amount: Decimal) -> int:
    """An amount with at most two places, as an exact integer number of cents."""
    scaled = amount * 100
    assert scaled == scaled.to_integral_value(), amount
    return int(scaled)


def oracle_fee_cents(gross: Decimal, percent: Decimal) -> int:
    """gross * percent / 100, rounded half up to the cent, in integer arithmetic only.

    fee in cents = gross_cents * percent_hundredths / 10_000; adding half the divisor
    before the floor division rounds a non-negative value half up.
    """
    gross_cents = cents(gross)
    percent_hundredths = cents(percent)
    return (gross_cents * percent_hundredths + 5_000) // 10_000


def has_two_places(amount: Decimal) -> bool:
    return amount.as_tuple().exponent == -2


@given(grosses, percents, st.booleans())
def test_refund_plus_fee_is_gross(gross: Decimal, percent: Decimal, apply_fee: bool) -> None:
    result = refund_breakdown(gross, percent, apply_fee)
    assert cents(result.refund) + cents(result.restocking_fee) == cents(gross)
    assert result.refund + result.restocking_fee == gross
    assert result.gross == gross


@given(grosses, percents, st.booleans())
def test_fee_is_between_zero_and_gross(gross: Decimal, percent: Decimal, apply_fee: bool) -> None:
    result = refund_breakdown(gross, percent, apply_fee)
    assert Decimal(0) <= result.restocking_fee <= gross
    assert Decimal(0) <= result.refund <= gross


@given(grosses, percents, st.booleans())
def test_amounts_have_exactly_two_places(gross: Decimal, percent: Decimal, apply_fee: bool) -> None:
    result = refund_breakdown(gross, percent, apply_fee)
    assert has_two_places(result.refund), result.refund
    assert has_two_places(result.restocking_fee), result.restocking_fee
    assert has_two_places(result.gross), result.gross


@given(grosses, percents)
def test_without_the_fee_the_refund_is_gross(gross: Decimal, percent: Decimal) -> None:
    result = refund_breakdown(gross, percent, apply_fee=False)
    assert cents(result.restocking_fee) == 0
    assert cents(result.refund) == cents(gross)


@given(grosses, percents)
def test_fee_is_percent_of_gross_rounded_half_up(gross: Decimal, percent: Decimal) -> None:
    result = refund_breakdown(gross, percent, apply_fee=True)
    expected_fee = oracle_fee_cents(gross, percent)
    assert cents(result.restocking_fee) == expected_fee
    assert cents(result.refund) == cents(gross) - expected_fee


@given(grosses, percents, percents)
def test_a_higher_percent_never_gives_a_larger_refund(
    gross: Decimal, first: Decimal, second: Decimal
) -> None:
    low, high = sorted((first, second))
    assert (
        refund_breakdown(gross, high, apply_fee=True).refund
        <= refund_breakdown(gross, low, apply_fee=True).refund
    )


@pytest.mark.parametrize(
    ("gross", "percent", "fee", "refund"),
    [
        ("100.00", "15", "15.00", "85.00"),
        ("19.99", "15", "3.00", "16.99"),  # 2.9985 rounds up to 3.00
        ("0.10", "5", "0.01", "0.09"),  # 0.005: half up, not half even (which gives 0.00)
        ("2.50", "1", "0.03", "2.47"),  # 0.025: half up, not half even (0.02)
        ("0.33", "15", "0.05", "0.28"),  # 0.0495 rounds to 0.05
        ("0.03", "15", "0.00", "0.03"),  # 0.0045 rounds down to 0.00
        ("99.99", "12.50", "12.50", "87.49"),  # 12.49875 rounds to 12.50
        ("129.99", "0", "0.00", "129.99"),
        ("129.99", "100", "129.99", "0.00"),
        ("0.00", "15", "0.00", "0.00"),
        ("100000.00", "99.99", "99990.00", "10.00"),
        ("100", "15", "15.00", "85.00"),  # a gross without places still answers in cents
    ],
)
def test_examples(gross: str, percent: str, fee: str, refund: str) -> None:
    result = refund_breakdown(Decimal(gross), Decimal(percent), apply_fee=True)
    assert str(result.restocking_fee) == fee
    assert str(result.refund) == refund


def test_default_policy_fee_is_fifteen_percent() -> None:
    result = refund_breakdown(Decimal("200.00"), Policy().restocking_fee_percent, apply_fee=True)
    assert str(result.restocking_fee) == "30.00"
    assert str(result.refund) == "170.00"


def test_no_fee_example_keeps_two_places() -> None:
    result = refund_breakdown(Decimal("19.99"), Decimal("15"), apply_fee=False)
    assert str(result.restocking_fee) == "0.00"
    assert str(result.refund) == "19.99"


@pytest.mark.parametrize("apply_fee", [True, False])
@pytest.mark.parametrize("gross", ["100", "100.0", "100.000"])
def test_gross_with_other_places_is_answered_in_cents(gross: str, apply_fee: bool) -> None:
    result = refund_breakdown(Decimal(gross), Decimal("15"), apply_fee)
    assert str(result.gross) == "100.00"
    assert str(result.refund) == ("85.00" if apply_fee else "100.00")
