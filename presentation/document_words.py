"""A document's data in its reader's words. The workflows write documents' dates and
amounts the one way (`domain.documents.long_date`: "7 December 2026"; "12.00 USD") and
their fixed sentences in English; this reads them back and writes them for the reader
(`Translator`) before the renderer draws them."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from presentation.i18n import N_, Translator

T = TypeVar("T")

_LONG_DATE: Final = re.compile(r"^\d{1,2} [A-Z][a-z]+ \d{4}$")
_AMOUNT: Final = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]{3})$")
_CLAIMS: Final = re.compile(r"^(\d+) claims per 12 months$")
_HAND_OVER: Final = re.compile(r"^Hand the parcel to (.+) by (\d{1,2} [A-Z][a-z]+ \d{4})\.$")

# The packing slip's fixed steps (domain.rma.packing_slip), as msgids.
_STEPS: Final = (
    N_("Put this slip inside the parcel with the items listed."),
    N_("Stick the return label on the outside, covering any old labels."),
)


def localised(data: T, t: Translator) -> T:
    """`data` (a dataclass of domain.documents) with its dates, amounts and fixed sentences
    in `t`'s words; the same data for English."""
    if t.locale == "en" or not dataclasses.is_dataclass(data) or isinstance(data, type):
        return data
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(data):
        value = getattr(data, field.name)
        new = _value(value, t)
        if new is not value:
            changes[field.name] = new
    return dataclasses.replace(data, **changes) if changes else data


def _value(value: Any, t: Translator) -> Any:
    if isinstance(value, str):
        return _text(value, t)
    if isinstance(value, list):
        items = [_value(item, t) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, tuple):
        items = [_value(item, t) for item in value]
        same = all(a is b for a, b in zip(items, value, strict=True))
        return value if same else tuple(items)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return localised(value, t)
    return value


def _text(text: str, t: Translator) -> str:
    if _LONG_DATE.match(text):
        day = _date(text)
        return t.date(day) if day else text
    if amount := _AMOUNT.match(text):
        return t.money(Decimal(amount.group(1)), amount.group(2))
    if claims := _CLAIMS.match(text):
        count = int(claims.group(1))
        return t.ngettext(
            "{count} claim per 12 months", "{count} claims per 12 months", count
        ).format(count=count)
    if hand := _HAND_OVER.match(text):
        day = _date(hand.group(2))
        when = t.date(day) if day else hand.group(2)
        return t.gettext(N_("Hand the parcel to {carrier} by {date}.")).format(
            carrier=hand.group(1), date=when
        )
    if text in _STEPS:
        return t.gettext(text)
    return text


def _date(text: str) -> datetime | None:
    try:
        # English month names whatever the process's locale: %B is the C locale's.
        return datetime.strptime(text, "%d %B %Y")
    except ValueError:
        return None
