"""What each customer email says. Which entry calls for an email is a rule of the domain
(`domain.notifications.notice_for`); the words are here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.contracts.facts import parse_moment
from domain.notifications import Notice
from presentation.copy import stage_words
from presentation.formatting import clock_time, long_date, money_words
from presentation.i18n import ENGLISH, N_, Translator


@dataclass(frozen=True)
class EmailContext:
    first_name: str
    case_id: str
    retailer: str
    tracking_url: str
    # The timeline entry's details: the dates, amounts and tracking number it reports.
    detail: Mapping[str, str]
    # Where the customer confirms a payment with their bank, while one waits for them.
    action_url: str = ""
    # The customer's language and clock (their case's locale, else the retailer's).
    t: Translator = ENGLISH


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    body: str


def compose(notice: Notice, ctx: EmailContext) -> ComposedEmail:
    """The email in the reader's language (`ctx.t`), dates on their clock, amounts with
    exactly their currency's minor units."""
    t, d = ctx.t, ctx.detail

    def _(message: str, **values: str) -> str:
        return t.gettext(message).format(case=ctx.case_id, **values)

    def day(key: str) -> str:
        return long_date(parse_moment(d.get(key)), t)

    tracking = d.get("tracking_number", "")
    amount = money_words(d.get("amount", ""), d.get("currency", ""), t)
    lines: dict[Notice, tuple[str, str]] = {
        Notice.LABEL_READY: (
            _(N_("Your shipping label for {case} is ready")),
            _(
                N_(
                    "Your prepaid label is ready. Print it from the page below, stick it on "
                    "the parcel and hand it to the carrier by {date}."
                ),
                date=day("ship_by"),
            )
            if d.get("ship_by")
            else _(
                N_(
                    "Your prepaid label is ready. Print it from the page below, stick it on "
                    "the parcel and hand it to the carrier."
                )
            ),
        ),
        Notice.RECEIVED: (
            _(N_("We received your parcel ({case})")),
            _(
                N_(
                    "Your parcel has arrived and is being looked at. We will write again "
                    "when there is something for you to do or to know."
                )
            ),
        ),
        Notice.QUOTE_WAITING: (
            _(N_("Your repair quote for {case} is waiting")),
            _(
                N_(
                    "The technician has diagnosed your unit. The repair costs {amount}. "
                    "Approve or decline the quote on the page below by {date}; without an "
                    "answer by then the unit is sent back unrepaired."
                ),
                amount=amount,
                date=day("expires_at"),
            ),
        ),
        Notice.SHIPPED_BACK: (
            _(N_("Your unit is coming back to you ({case})")),
            (
                _(
                    N_("Your unit is being sent back to you, tracking number {number}."),
                    number=tracking,
                )
                if tracking
                else _(N_("Your unit is being sent back to you."))
            )
            + " "
            + _(N_("Follow the parcel on the page below.")),
        ),
        Notice.REPLACEMENT_SHIPPED: (
            _(N_("Your replacement is on its way ({case})")),
            _(
                N_("Your replacement unit has been shipped, tracking number {number}."),
                number=tracking,
            )
            if tracking
            else _(N_("Your replacement unit has been shipped.")),
        ),
        Notice.CORE_LABEL_READY: (
            _(N_("Send back your old unit ({case})")),
            _(
                N_(
                    "Your replacement was shipped ahead. Print the prepaid label from the page "
                    "below and send the old unit back by {date} so the deposit hold on your "
                    "card is released."
                ),
                date=day("core_due"),
            )
            if d.get("core_due")
            else _(
                N_(
                    "Your replacement was shipped ahead. Print the prepaid label from the page "
                    "below and send the old unit back so the deposit hold on your card is "
                    "released."
                )
            ),
        ),
        Notice.APPOINTMENT_REMINDER: (
            _(
                N_("Reminder: your {stage} appointment ({case})"),
                stage=stage_words(d.get("stage", ""), t),
            ),
            _(
                N_(
                    "Our technician comes on {date} at {time} {zone}. You can ask for another "
                    "date on the page below."
                ),
                date=day("starts_at"),
                time=clock_time(parse_moment(d.get("starts_at")), t),
                zone=_zone(parse_moment(d.get("starts_at")), t),
            ),
        ),
        Notice.RENEWAL_UPCOMING: (
            _(N_("Your protection plan {case} renews soon")),
            _(N_("Your plan's term ends on {date}."), date=day("term_ends_at"))
            + " "
            + (
                _(
                    N_(
                        "It renews automatically at the current price; contact us before "
                        "then if you do not want it to."
                    )
                )
                if d.get("auto_renew") == "true"
                else _(
                    N_(
                        "It does not renew by itself; ask us to renew it if you want to stay "
                        "covered."
                    )
                )
            ),
        ),
        Notice.PLAN_TRANSFERRED: (
            _(N_("Your protection plan {case} is now in your name")),
            _(
                N_(
                    "The protection plan has been transferred to you. Your Certificate of "
                    "Coverage and the plan's details are on the page below; keep this link, "
                    "it is yours."
                )
            ),
        ),
        Notice.PAYMENT_AUTHENTICATION: (
            _(N_("Please confirm your payment ({case})")),
            _(
                N_("Your bank asks you to confirm the payment of {amount} for this case."),
                amount=amount,
            )
            + " "
            + (
                _(N_("Confirm it with your bank here:")) + f"\n{ctx.action_url}\n\n"
                if ctx.action_url
                else _(N_("The page below takes you to your bank to confirm it.")) + " "
            )
            + _(
                N_(
                    "Please do so by {date}; without it the payment is treated as declined "
                    "and the case cannot go on."
                ),
                date=day("expires_at"),
            ),
        ),
        Notice.CASE_CLOSED: (
            _(N_("Your case {case} is closed: how did we do?")),
            _(
                N_(
                    "Your case is closed. How did we do? Please rate us from 1 to 5, and tell "
                    "us in a few words if you like, here:"
                )
            )
            + f"\n{ctx.tracking_url}#feedback\n\n"
            + _(N_("It takes a minute, and we ask only once.")),
        ),
    }
    subject, message = lines[notice]
    greeting = _(N_("Hello {name},"), name=ctx.first_name) if ctx.first_name else _(N_("Hello,"))
    follow = _(N_("Follow your case at any time:"))
    body = f"{greeting}\n\n{message}\n\n{follow}\n{ctx.tracking_url}\n\n{ctx.retailer}\n"
    return ComposedEmail(subject=subject, body=body)


def _zone(moment: datetime | None, t: Translator) -> str:
    return t.zone_name(moment) if moment is not None else ""
