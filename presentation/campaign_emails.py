"""What campaign and warranty-end emails say. A campaign's subject and message are the
retailer's own words; around them, the greeting, the offer and the sign-off are here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from presentation.formatting import long_date

_OFFERS = {
    "repair": "We will repair it free of charge",
    "replacement": "We will replace it free of charge",
}


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


def _greeting(name: str) -> str:
    first = name.split()[0] if name.split() else ""
    return f"Hello {first}," if first else "Hello,"


def campaign_letter(
    *,
    subject: str,
    message: str,
    customer_name: str,
    serial: str,
    offer: str,
    offer_url: str,
    retailer: str,
) -> Letter:
    parts = [_greeting(customer_name), message.strip(), f"This is about your unit {serial}."]
    if offer in _OFFERS:
        parts.append(f"{_OFFERS[offer]}. Start here, it takes a minute:\n{offer_url}")
    parts.append(retailer)
    return Letter(subject=subject, body="\n\n".join(parts) + "\n")


def warranty_letter(
    *,
    customer_name: str,
    product: str,
    serial: str,
    ends_at: datetime,
    plans: list[str],
    retailer: str,
) -> Letter:
    when = long_date(ends_at)
    offer = (
        "Stay covered with one of our protection plans: " + ", ".join(plans) + ". "
        if plans
        else "Ask us about a protection plan to stay covered. "
    )
    return Letter(
        subject=f"Your warranty for {product} ends on {when}",
        body="\n\n".join(
            [
                _greeting(customer_name),
                f"The warranty of your {product} (serial {serial}) ends on {when}.",
                offer + f"Reply to this email or contact {retailer} to join before then.",
                retailer,
            ]
        )
        + "\n",
    )
