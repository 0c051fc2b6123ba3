"""What each customer email says. Which entry calls for an email is a rule of the domain
(`domain.notifications.notice_for`); the words are here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.contracts.facts import parse_moment
from domain.notifications import Notice
from presentation.formatting import clock_time, long_date


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


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    body: str


def compose(notice: Notice, ctx: EmailContext) -> ComposedEmail:
    d = ctx.detail
    tracking = d.get("tracking_number", "")
    lines: dict[Notice, tuple[str, str]] = {
        Notice.LABEL_READY: (
            f"Your shipping label for {ctx.case_id} is ready",
            "Your prepaid label is ready. Print it from the page below, stick it on the "
            "parcel and hand it to the carrier"
            + (f" by {_date(d, 'ship_by')}." if d.get("ship_by") else "."),
        ),
        Notice.RECEIVED: (
            f"We received your parcel ({ctx.case_id})",
            "Your parcel has arrived and is being looked at. We will write again when "
            "there is something for you to do or to know.",
        ),
        Notice.QUOTE_WAITING: (
            f"Your repair quote for {ctx.case_id} is waiting",
            "The technician has diagnosed your unit. The repair costs "
            f"{d.get('amount', '')} {d.get('currency', '')}. Approve or decline the quote "
            f"on the page below by {_date(d, 'expires_at')}; without an answer by "
            "then the unit is sent back unrepaired.",
        ),
        Notice.SHIPPED_BACK: (
            f"Your unit is coming back to you ({ctx.case_id})",
            "Your unit is being sent back to you"
            + (f", tracking number {tracking}." if tracking else ".")
            + " Follow the parcel on the page below.",
        ),
        Notice.REPLACEMENT_SHIPPED: (
            f"Your replacement is on its way ({ctx.case_id})",
            "Your replacement unit has been shipped"
            + (f", tracking number {tracking}." if tracking else "."),
        ),
        Notice.CORE_LABEL_READY: (
            f"Send back your old unit ({ctx.case_id})",
            "Your replacement was shipped ahead. Print the prepaid label from the page "
            "below and send the old unit back"
            + (f" by {_date(d, 'core_due')}" if d.get("core_due") else "")
            + " so the deposit hold on your card is released.",
        ),
        Notice.APPOINTMENT_REMINDER: (
            f"Reminder: your {d.get('stage', '')} appointment ({ctx.case_id})",
            f"Our technician comes on {_date(d, 'starts_at')} at "
            f"{clock_time(parse_moment(d.get('starts_at')))} UTC. You can ask for another "
            "date on the page below.",
        ),
        Notice.RENEWAL_UPCOMING: (
            f"Your protection plan {ctx.case_id} renews soon",
            f"Your plan's term ends on {_date(d, 'term_ends_at')}. "
            + (
                "It renews automatically at the current price; contact us before then "
                "if you do not want it to."
                if d.get("auto_renew") == "true"
                else "It does not renew by itself; ask us to renew it if you want to stay covered."
            ),
        ),
        Notice.PLAN_TRANSFERRED: (
            f"Your protection plan {ctx.case_id} is now in your name",
            "The protection plan has been transferred to you. Your Certificate of Coverage "
            "and the plan's details are on the page below; keep this link, it is yours.",
        ),
        Notice.PAYMENT_AUTHENTICATION: (
            f"Please confirm your payment ({ctx.case_id})",
            f"Your bank asks you to confirm the payment of {d.get('amount', '')} "
            f"{d.get('currency', '')} for this case. "
            + (
                f"Confirm it with your bank here:\n{ctx.action_url}\n\n"
                if ctx.action_url
                else "The page below takes you to your bank to confirm it. "
            )
            + f"Please do so by {_date(d, 'expires_at')}; without it the payment is "
            "treated as declined and the case cannot go on.",
        ),
        Notice.CASE_CLOSED: (
            f"Your case {ctx.case_id} is closed: how did we do?",
            "Your case is closed. How did we do? Please rate us from 1 to 5, and tell us "
            "in a few words if you like, here:\n"
            f"{ctx.tracking_url}#feedback\n\n"
            "It takes a minute, and we ask only once.",
        ),
    }
    subject, message = lines[notice]
    greeting = f"Hello {ctx.first_name}," if ctx.first_name else "Hello,"
    body = (
        f"{greeting}\n\n{message}\n\nFollow your case at any time:\n{ctx.tracking_url}\n\n"
        f"{ctx.retailer}\n"
    )
    return ComposedEmail(subject=subject, body=body)


def _date(detail: Mapping[str, str], key: str) -> str:
    return long_date(parse_moment(detail.get(key)))
