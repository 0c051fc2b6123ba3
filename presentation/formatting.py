"""Dates and money as people write them. Dates are shown in UTC, the zone the timeline
stores; a page shows the year only when it is not this year's, an email always does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def human_date(moment: datetime | date, today: date) -> str:
    """`7 December`, with the year when it is not this year's (dates are shown in UTC)."""
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def human_datetime(moment: datetime, today: date) -> str:
    """`7 December at 09:30 UTC`: an appointment needs its time as well as its day."""
    utc = moment.astimezone(UTC)
    return f"{human_date(utc, today)} at {utc:%H:%M} UTC"


def long_date(moment: datetime | None) -> str:
    """`7 December 2026`, as an email writes it (it may be read next year); "" for none."""
    if moment is None:
        return ""
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def clock_time(moment: datetime | None) -> str:
    """`09:30`; "" for none."""
    return "" if moment is None else f"{moment:%H:%M}"


_SYMBOLS: Final[Mapping[str, str]] = {"USD": "$", "GBP": "£", "EUR": "€"}


def money_words(amount: str | Decimal, currency: str) -> str:
    """`$90.00`, or `90.00 CHF` for a currency without a well-known symbol."""
    try:
        value = Decimal(amount).quantize(Decimal("0.01"))
    except InvalidOperation:
        return f"{amount} {currency}".strip()
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{value:,}" if symbol else f"{value:,} {currency}"


def humanise(code: str) -> str:
    """`quote_expired` as `Quote expired`: the words of a code that has none of its own."""
    return code.replace("_", " ").capitalize()
