"""Dates and money as people write them, in the reader's language and on their clock
(`presentation.i18n.Translator`; English on UTC when none is given). A page shows the year
only when it is not this year's, an email always does."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from presentation.i18n import ENGLISH, Translator


def human_date(moment: datetime | date, today: date, t: Translator = ENGLISH) -> str:
    """`7 December`, with the year when it is not this year's, on the reader's clock."""
    return t.date(moment, year=False, today=today)


def human_datetime(moment: datetime, today: date, t: Translator = ENGLISH) -> str:
    """`7 December at 09:30 UTC`: an appointment needs its time and zone as well as its day."""
    return t.datetime(moment, today=today)


def long_date(moment: datetime | None, t: Translator = ENGLISH) -> str:
    """`7 December 2026`, as an email writes it (it may be read next year); "" for none."""
    return "" if moment is None else t.date(moment)


def clock_time(moment: datetime | None, t: Translator = ENGLISH) -> str:
    """`09:30` on the reader's clock; "" for none."""
    return "" if moment is None else t.time(moment)


def money_words(amount: str | Decimal, currency: str, t: Translator = ENGLISH) -> str:
    """`$90.00`, `¥1,234`, `1.234,50 €`: exactly the currency's minor units."""
    try:
        return t.money(Decimal(amount), currency)
    except (InvalidOperation, ValueError, KeyError):
        return f"{amount} {currency}".strip()


def humanise(code: str) -> str:
    """`quote_expired` as `Quote expired`: the words of a code that has none of its own."""
    return code.replace("_", " ").capitalize()
