"""Calendar months: `domain.durations.add_months`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.durations import add_months


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (at(2026, 1, 31), 1, at(2026, 2, 28)),  # common year
        (at(2024, 1, 31), 1, at(2024, 2, 29)),  # leap year
        (at(2000, 1, 31), 1, at(2000, 2, 29)),  # divisible by 400: leap
        (at(2100, 1, 31), 1, at(2100, 2, 28)),  # divisible by 100 only: not leap
        (at(2024, 1, 29), 1, at(2024, 2, 29)),
        (at(2026, 1, 28), 1, at(2026, 2, 28)),  # no clamping needed
        (at(2026, 3, 31), 1, at(2026, 4, 30)),
        (at(2026, 8, 31), 1, at(2026, 9, 30)),
        (at(2026, 1, 30), 2, at(2026, 3, 30)),  # clamps only the landing month, not Feb
        (at(2026, 12, 15), 1, at(2027, 1, 15)),  # year rollover
        (at(2026, 12, 31), 1, at(2027, 1, 31)),
        (at(2026, 11, 30), 3, at(2027, 2, 28)),
        (at(2026, 12, 1), 13, at(2028, 1, 1)),
        (at(2026, 6, 15), 12, at(2027, 6, 15)),
        (at(2024, 2, 29), 12, at(2025, 2, 28)),  # leap day, next year has none
        (at(2024, 2, 29), 48, at(2028, 2, 29)),
        (at(2026, 6, 15), 120, at(2036, 6, 15)),
        (at(2024, 2, 29), 120, at(2034, 2, 28)),
        (at(2026, 5, 31), 0, at(2026, 5, 31)),
        (at(2026, 1, 31), -1, at(2025, 12, 31)),
        (at(2026, 3, 31), -1, at(2026, 2, 28)),
    ],
)
def test_add_months_examples(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


def test_time_of_day_and_timezone_are_kept() -> None:
    tz = timezone(timedelta(hours=-5))
    result = add_months(datetime(2026, 1, 31, 23, 59, 59, 1, tzinfo=tz), 1)
    assert result == datetime(2026, 2, 28, 23, 59, 59, 1, tzinfo=tz)
    assert result.tzinfo is tz


def last_day_of_month(year: int, month: int) -> int:
    """Independent of `calendar`: the day before the first of the next month."""
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return (first_of_next - timedelta(days=1)).day


moments = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)


@given(moments, st.integers(min_value=-1200, max_value=1200))
def test_add_months_lands_in_the_right_month(moment: datetime, months: int) -> None:
    result = add_months(moment, months)
    # Months counted from year 0: exactly `months` apart.
    assert result.year * 12 + result.month - (moment.year * 12 + moment.month) == months
    last = last_day_of_month(result.year, result.month)
    assert result.day == min(moment.day, last)
    assert result.timetz() == moment.timetz()
    assert result.tzinfo is moment.tzinfo


@given(moments, st.integers(min_value=0, max_value=1200))
def test_adding_more_months_is_always_later(moment: datetime, months: int) -> None:
    assert add_months(moment, months) < add_months(moment, months + 1)
    assert add_months(moment, months) >= moment


@given(moments.filter(lambda m: m.day <= 28), st.integers(min_value=0, max_value=1200))
def test_early_days_never_move(moment: datetime, months: int) -> None:
    assert add_months(moment, months).day == moment.day
