"""Campaigns (a recall, a service offer) and warranty-end notices: who gets one, at what
pace, and the messages their workflows exchange with their activities. Pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.durations import add_months

CAMPAIGN_WORKFLOW = "Campaign"
CAMPAIGN_CANCEL_SIGNAL = "cancel"
WARRANTY_NOTICES_WORKFLOW = "WarrantyNotices"
# The one daily schedule of warranty-end notices (Temporal Schedule id).
WARRANTY_NOTICES_SCHEDULE = "warranty-notices-daily"
# At 06:00 UTC: mail that reaches inboxes in the morning across Europe and overnight in the
# Americas; the hour matters less than that it is once a day.
WARRANTY_NOTICE_HOUR_UTC = 6

# The pace of a campaign's emails: a mail server (and the customers' providers) take a
# steady trickle better than a burst.
EMAILS_PER_SECOND = 20
# Owners looked up per discovery activity; pages sent per workflow run.
DISCOVERY_PAGE = 500
PAGES_PER_RUN = 200

# Told this long before a unit's warranty ends.
WARRANTY_NOTICE_AHEAD = timedelta(days=30)
WARRANTY_PAGE = 200

_EVENT_NAMESPACE = uuid.UUID("5d0b7c1a-2e9f-4a63-8c14-93f6e2a7b0d5")


class CampaignOffer(StrEnum):
    NONE = "none"
    REPAIR = "repair"
    REPLACEMENT = "replacement"


class CampaignStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


CAMPAIGN_COVERAGE = "campaign"


def campaign_workflow_id(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


def serial_matches(serial: str, prefix: str | None) -> bool:
    return not prefix or serial.startswith(prefix)


def purchased_within(
    purchased_at: datetime | None, start: datetime | None, end: datetime | None
) -> bool:
    """Whether a unit bought at `purchased_at` falls in the campaign's window. With a
    window, a unit whose purchase date nobody recorded does not: the campaign is about
    units sold in that window, and that one cannot be shown to be."""
    if start is None and end is None:
        return True
    if purchased_at is None:
        return False
    return (start is None or purchased_at >= start) and (end is None or purchased_at <= end)


def campaign_email_id(campaign_id: str, email: str, serial: str) -> str:
    """The event id of a campaign's email to one customer about one unit: one email per
    pair, however often a page is retried."""
    key = f"campaign:{campaign_id}:{email.lower()}:{serial}"
    return "cmp_" + uuid.uuid5(_EVENT_NAMESPACE, key).hex


def warranty_email_id(org_id: str, serial: str) -> str:
    return "wty_" + uuid.uuid5(_EVENT_NAMESPACE, f"warranty:{org_id}:{serial}").hex


def warranty_ends_at(purchased_at: datetime, warranty_months: int) -> datetime:
    return add_months(purchased_at, warranty_months)


def warranty_notice_due(ends_at: datetime, now: datetime) -> bool:
    """Due once the end is at most `WARRANTY_NOTICE_AHEAD` away and still ahead: a daily
    run catches every unit on the first day it qualifies (or the next run, after a
    missed day)."""
    return now < ends_at <= now + WARRANTY_NOTICE_AHEAD


def pause_after(sent: int, per_second: int) -> timedelta:
    """How long to wait after a page of `sent` emails to keep to `per_second`."""
    return timedelta(seconds=sent / max(per_second, 1))


# ------------------------------------------------------------------ workflow messages


@dataclass
class CampaignStart:
    campaign_id: str
    org_id: str
    per_second: int = EMAILS_PER_SECOND
    # Carried across continue-as-new: where discovery stands, and whether it is done.
    discovery_cursor: str = ""
    discovered: bool = False
    cancelled: bool = False


@dataclass
class DiscoverPage:
    campaign_id: str
    cursor: str = ""
    limit: int = DISCOVERY_PAGE


@dataclass
class DiscoverResult:
    found: int
    # Where the next page starts; empty when every source has been read.
    next_cursor: str = ""


@dataclass
class SendPage:
    campaign_id: str
    limit: int


@dataclass
class SendResult:
    sent: int
    remaining: int
    # The campaign was cancelled (through the API): nothing more is sent.
    cancelled: bool = False


@dataclass
class CampaignEnd:
    campaign_id: str
    cancelled: bool = False


@dataclass
class WarrantyRun:
    # The moment the run counts from (the schedule's time, or a test's).
    now: datetime | None = None
    # Order lines after this id are looked at next (carried across continue-as-new).
    after_line: int = 0


@dataclass
class WarrantyPage:
    now: datetime
    after_line: int
    limit: int = WARRANTY_PAGE


@dataclass
class WarrantyPageResult:
    notified: int
    # The last order line looked at; None when there were no more.
    last_line: int | None
