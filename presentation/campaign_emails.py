"""What campaign and warranty-end emails say. A campaign's subject and message are the
retailer's own words; around them, the greeting, the offer and the sign-off are here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from presentation.formatting import long_date
from presentation.i18n import ENGLISH, N_, Translator

_OFFERS = {
    "repair": N_("We will repair it free of charge. Start here, it takes a minute:"),
    "replacement": N_("We will replace it free of charge. Start here, it takes a minute:"),
}


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


def _greeting(name: str, t: Translator) -> str:
    first = name.split()[0] if name.split() else ""
    return t.gettext(N_("Hello {name},")).format(name=first) if first else t.gettext(N_("Hello,"))


def campaign_letter(
    *,
    subject: str,
    message: str,
    customer_name: str,
    serial: str,
    offer: str,
    offer_url: str,
    retailer: str,
    t: Translator = ENGLISH,
) -> Letter:
    """In the retailer's default language (`t`): the campaign's own words are as written."""
    about = t.gettext(N_("This is about your unit {serial}.")).format(serial=serial)
    parts = [_greeting(customer_name, t), message.strip(), about]
    if offer in _OFFERS:
        parts.append(f"{t.gettext(_OFFERS[offer])}\n{offer_url}")
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
    t: Translator = ENGLISH,
) -> Letter:
    when = long_date(ends_at, t)
    offer = (
        t.gettext(N_("Stay covered with one of our protection plans: {plans}.")).format(
            plans=", ".join(plans)
        )
        if plans
        else t.gettext(N_("Ask us about a protection plan to stay covered."))
    )
    join = t.gettext(N_("Reply to this email or contact {retailer} to join before then."))
    ends = t.gettext(N_("The warranty of your {product} (serial {serial}) ends on {date}."))
    return Letter(
        subject=t.gettext(N_("Your warranty for {product} ends on {date}")).format(
            product=product, date=when
        ),
        body="\n\n".join(
            [
                _greeting(customer_name, t),
                ends.format(product=product, serial=serial, date=when),
                f"{offer} {join.format(retailer=retailer)}",
                retailer,
            ]
        )
        + "\n",
    )
