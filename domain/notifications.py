"""Emails to customers at the steps that matter, and what each says. Pure: the read model
decides who gets one, the mail adapter sends it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Notice(StrEnum):
    LABEL_READY = "label_ready"
    RECEIVED = "received"
    QUOTE_WAITING = "quote_waiting"
    SHIPPED_BACK = "shipped_back"
    REPLACEMENT_SHIPPED = "replacement_shipped"
    CORE_LABEL_READY = "core_label_ready"
    APPOINTMENT_REMINDER = "appointment_reminder"
    RENEWAL_UPCOMING = "renewal_upcoming"
    PLAN_TRANSFERRED = "plan_transferred"


def notice_for(
    case_type: str, event: str, status: str, previous_status: str | None, linked_rma: bool
) -> Notice | None:
    """The email a timeline entry calls for, if any."""
    entered = status if status != previous_status else None
    if case_type == "rma":
        if event == "label_created":
            return Notice.LABEL_READY
        if entered == "received":
            return Notice.RECEIVED
        if event == "shipping_back":
            return Notice.SHIPPED_BACK
    elif case_type == "repair":
        # A direct repair: the customer sends the unit on our label (an RMA's repair
        # travels on the RMA's label, already announced).
        if event == "label_created" and not linked_rma:
            return Notice.LABEL_READY
        if event == "quoted":
            return Notice.QUOTE_WAITING
        # The RMA that sent the unit already told the customer it arrived.
        if entered == "received" and not linked_rma:
            return Notice.RECEIVED
        if entered == "shipped":
            return Notice.SHIPPED_BACK
    elif case_type == "replacement":
        if entered == "shipped":
            return Notice.REPLACEMENT_SHIPPED
        if event == "core_label_created":
            return Notice.CORE_LABEL_READY
    elif case_type == "relocation":
        if event == "appointment_reminder":
            return Notice.APPOINTMENT_REMINDER
    elif case_type == "service_plan" and event == "renewal_upcoming":
        return Notice.RENEWAL_UPCOMING
    elif case_type == "service_plan" and event == "transferred":
        # To the new owner, with the plan's new tracking link.
        return Notice.PLAN_TRANSFERRED
    return None


@dataclass(frozen=True)
class EmailContext:
    first_name: str
    case_id: str
    retailer: str
    tracking_url: str
    detail: dict[str, str]


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    body: str


def long_date(iso: str | None) -> str:
    """'7 December 2026' from an RFC 3339 timestamp (UTC, as the timeline stores it)."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    return f"{moment.day} {moment:%B %Y}"


def compose(notice: Notice, ctx: EmailContext) -> ComposedEmail:
    d = ctx.detail
    tracking = d.get("tracking_number", "")
    lines: dict[Notice, tuple[str, str]] = {
        Notice.LABEL_READY: (
            f"Your shipping label for {ctx.case_id} is ready",
            "Your prepaid label is ready. Print it from the page below, stick it on the "
            "parcel and hand it to the carrier"
            + (f" by {long_date(d.get('ship_by'))}." if d.get("ship_by") else "."),
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
            f"on the page below by {long_date(d.get('expires_at'))}; without an answer by "
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
            + (f" by {long_date(d.get('core_due'))}" if d.get("core_due") else "")
            + " so the deposit hold on your card is released.",
        ),
        Notice.APPOINTMENT_REMINDER: (
            f"Reminder: your {d.get('stage', '')} appointment ({ctx.case_id})",
            f"Our technician comes on {long_date(d.get('starts_at'))} at "
            f"{_time(d.get('starts_at'))} UTC. You can ask for another date on the page below.",
        ),
        Notice.RENEWAL_UPCOMING: (
            f"Your protection plan {ctx.case_id} renews soon",
            f"Your plan's term ends on {long_date(d.get('term_ends_at'))}. "
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
    }
    subject, message = lines[notice]
    greeting = f"Hello {ctx.first_name}," if ctx.first_name else "Hello,"
    body = (
        f"{greeting}\n\n{message}\n\nFollow your case at any time:\n{ctx.tracking_url}\n\n"
        f"{ctx.retailer}\n"
    )
    return ComposedEmail(subject=subject, body=body)


def _time(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M") if iso else ""
