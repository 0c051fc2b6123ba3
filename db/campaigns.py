"""Campaigns and warranty-end notices in the read model: who owns a matching unit (from
orders, and from the cases of every lifecycle: RMAs, repairs, replacements, plans, and the
relocations and installations of assets), each customer and serial once per campaign, and
the emails written for them in the same transaction as the row that says they were sent
(the outbox: nothing is sent twice, nothing recorded unsent)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.outbox import OutboxConfig, PendingDelivery, email_queue, table_of
from db.readers import Reader, reader_of
from db.types import utcnow
from domain.campaign import (
    CampaignStatus,
    campaign_email_id,
    purchased_within,
    serial_matches,
    warranty_email_id,
    warranty_ends_at,
    warranty_notice_due,
)
from domain.contracts.facts import parse_moment

_O, _L, _R = models.Order, models.OrderLine, models.CampaignRecipient
_C = models.Campaign
_CASE, _ITEM, _CUSTOMER = models.Case, models.CaseItem, models.CustomerRecord
# The sources owners are read from, in this order; a cursor names one and the last id read.
_ORDERS, _CASES = "orders", "cases"


@dataclass(frozen=True)
class Owner:
    email: str
    serial: str
    sku: str
    name: str
    phone: str
    address: dict[str, Any] | None
    purchased_at: datetime | None


@dataclass(frozen=True)
class Matching:
    """Which units a campaign is about."""

    org_id: str
    sku: str
    serial_prefix: str | None = None
    purchased_from: datetime | None = None
    purchased_to: datetime | None = None

    @classmethod
    def of(cls, campaign: models.Campaign) -> Matching:
        return cls(
            campaign.org_id,
            campaign.sku,
            campaign.serial_prefix,
            campaign.purchased_from,
            campaign.purchased_to,
        )

    def admits(self, owner: Owner) -> bool:
        return (
            bool(owner.email)
            and serial_matches(owner.serial, self.serial_prefix)
            and purchased_within(owner.purchased_at, self.purchased_from, self.purchased_to)
        )


def _prefixed(column: Any, prefix: str | None) -> Any:
    return column.startswith(prefix, autoescape=True) if prefix else None


async def owner_page(
    session: AsyncSession, matching: Matching, cursor: str, limit: int
) -> tuple[list[Owner], str]:
    """Up to `limit` rows read from the source `cursor` names, from where it stopped, and
    the cursor after them ("" once every source is read). Rows that do not match (no
    email, outside the purchase window) are read and dropped, so each page moves on."""
    source, _, last = cursor.partition(":") if cursor else (_ORDERS, "", "0")
    after = int(last or 0)
    if source == _ORDERS:
        query: Select[Any] = (
            select(
                _L.id,
                _O.customer_email,
                _L.serial,
                _L.sku,
                _O.customer_name,
                _O.customer_phone,
                _O.customer_address,
                _O.placed_at,
            )
            .join(_O, _O.id == _L.order_id)
            .where(_L.org_id == matching.org_id, _L.sku == matching.sku, _L.serial.is_not(None))
        )
        prefix = _prefixed(_L.serial, matching.serial_prefix)
        id_column = _L.id
    else:
        query = (
            select(
                _ITEM.id,
                _CUSTOMER.email,
                _ITEM.serial,
                _ITEM.sku,
                _CUSTOMER.name,
                _CUSTOMER.phone,
                _CUSTOMER.address,
                _CASE.data,
            )
            .join(_CASE, _CASE.id == _ITEM.case_id)
            .join(_CUSTOMER, _CUSTOMER.id == _CASE.customer_id)
            .where(_CASE.org_id == matching.org_id, _ITEM.sku == matching.sku)
        )
        prefix = _prefixed(_ITEM.serial, matching.serial_prefix)
        id_column = _ITEM.id
    if prefix is not None:
        query = query.where(prefix)
    rows = (
        await session.execute(query.where(id_column > after).order_by(id_column).limit(limit))
    ).all()
    owners = [
        owner
        for row in rows
        if matching.admits(
            owner := Owner(
                email=(row[1] or "").strip().lower(),
                serial=row[2],
                sku=row[3],
                name=row[4],
                phone=row[5] or "",
                address=row[6],
                purchased_at=row[7] if source == _ORDERS else _purchased_at(row[7]),
            )
        )
    ]
    if len(rows) == limit:
        return owners, f"{source}:{rows[-1][0]}"
    return owners, "" if source == _CASES else f"{_CASES}:0"


def _purchased_at(data: dict[str, Any] | None) -> datetime | None:
    """A case's record of when its unit was bought (an RMA's, a repair's unit's)."""
    if not data:
        return None
    unit = data.get("unit")
    found = data.get("purchased_at") or (
        unit.get("purchased_at") if isinstance(unit, dict) else None
    )
    return parse_moment(found) if isinstance(found, str) else None


async def count_owners(session: AsyncSession, matching: Matching, page: int = 1000) -> int:
    """How many customer and serial pairs a campaign would reach now."""
    pairs: set[tuple[str, str]] = set()
    cursor = ""
    while True:
        owners, cursor = await owner_page(session, matching, cursor, page)
        pairs.update((o.email, o.serial) for o in owners)
        if not cursor:
            return len(pairs)


def _rowcount(result: Any) -> int:
    """Rows an INSERT or UPDATE touched (a conflict skipped is not one)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _insert(session: AsyncSession, model: type[models.Base]) -> Any:
    table = table_of(model)
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


async def add_recipients(session: AsyncSession, campaign_id: str, owners: Sequence[Owner]) -> int:
    """Add each customer and serial once (a pair already there, from an earlier page, an
    earlier attempt or another source, is skipped by the unique constraint)."""
    if not owners:
        return 0
    rows = [
        {
            "campaign_id": campaign_id,
            "email": o.email,
            "serial": o.serial,
            "sku": o.sku,
            "customer_name": o.name,
            "customer_phone": o.phone,
            "customer_address": o.address,
            "purchased_at": o.purchased_at,
            "status": "pending",
            "created_at": utcnow(),
        }
        for o in owners
    ]
    result = await session.execute(
        _insert(session, models.CampaignRecipient)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["campaign_id", "email", "serial"])
    )
    return max(_rowcount(result), 0)


async def create_campaign(session: AsyncSession, campaign: models.Campaign) -> models.Campaign:
    session.add(campaign)
    await session.commit()
    return campaign


async def campaign_of(
    session: AsyncSession, org_id: str, campaign_id: str
) -> models.Campaign | None:
    campaign = await session.get(models.Campaign, campaign_id, populate_existing=True)
    return campaign if campaign is not None and campaign.org_id == org_id else None


async def campaign_page(
    session: AsyncSession,
    org_id: str,
    status: str | None,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[models.Campaign]:
    """The organisation's campaigns newest first, keyset-paged over (created_at, id) before
    `before` (the index `ix_campaigns_org_created`)."""
    query = select(_C).where(_C.org_id == org_id)
    if status is not None:
        query = query.where(_C.status == status)
    if before is not None:
        query = query.where(tuple_(_C.created_at, _C.id) < tuple_(*before))
    query = query.order_by(_C.created_at.desc(), _C.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class CampaignCounts:
    recipients: int
    sent: int
    responses: int


async def campaign_counts(session: AsyncSession, campaign: models.Campaign) -> CampaignCounts:
    """Recipients are the pairs found (the estimate made at creation until the workflow has
    found them all), sent the emails written, responses the cases started from the offer."""
    return (await counts_of(session, [campaign]))[campaign.id]


async def counts_of(
    session: AsyncSession, campaigns: Sequence[models.Campaign]
) -> dict[str, CampaignCounts]:
    """`campaign_counts` of each campaign, in one query for a page of them."""
    if not campaigns:
        return {}
    found = {
        row[0]: row[1:]
        for row in await session.execute(
            select(
                _R.campaign_id,
                func.count(),
                func.count(_R.sent_at),
                func.count(_R.responded_at),
            )
            .where(_R.campaign_id.in_([c.id for c in campaigns]))
            .group_by(_R.campaign_id)
        )
    }
    counts: dict[str, CampaignCounts] = {}
    for campaign in campaigns:
        recipients, sent, responses = found.get(campaign.id, (0, 0, 0))
        counts[campaign.id] = CampaignCounts(max(campaign.recipients, recipients), sent, responses)
    return counts


async def cancel_campaign(session: AsyncSession, campaign: models.Campaign) -> bool:
    """Stop a running campaign (what is sent stays sent); False when it had ended."""
    result = await session.execute(
        update(models.Campaign)
        .where(models.Campaign.id == campaign.id, models.Campaign.status == CampaignStatus.RUNNING)
        .values(status=CampaignStatus.CANCELLED.value, finished_at=utcnow())
    )
    await session.commit()
    return bool(_rowcount(result))


async def finish_campaign(session: AsyncSession, campaign_id: str, cancelled: bool) -> None:
    """The workflow is done: a running campaign is completed (or cancelled), its recipient
    count is what it found, and anyone not written to is cancelled."""
    found = await session.scalar(select(func.count()).where(_R.campaign_id == campaign_id))
    await session.execute(
        update(models.Campaign)
        .where(models.Campaign.id == campaign_id, models.Campaign.status == CampaignStatus.RUNNING)
        .values(
            status=(CampaignStatus.CANCELLED if cancelled else CampaignStatus.COMPLETED).value,
            finished_at=utcnow(),
        )
    )
    await session.execute(
        update(models.Campaign)
        .where(models.Campaign.id == campaign_id)
        .values(recipients=found or 0)
    )
    await session.execute(
        update(_R)
        .where(_R.campaign_id == campaign_id, _R.status == "pending")
        .values(status="cancelled")
    )


@dataclass(frozen=True)
class CampaignEmail:
    subject: str
    body: str
    link: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def send_page(
    session: AsyncSession,
    campaign_id: str,
    limit: int,
    config: OutboxConfig,
    compose: Any,
) -> tuple[int, int, bool, list[PendingDelivery]]:
    """Write the emails of up to `limit` recipients not written to yet, each with its offer
    token, and mark them sent, in the caller's transaction. `compose(campaign, recipient,
    token)` gives a `CampaignEmail`. Answers (written, still pending after these,
    cancelled, deliveries to hand over)."""
    campaign = await session.get(models.Campaign, campaign_id, with_for_update=True)
    if campaign is None or campaign.status != CampaignStatus.RUNNING:
        return 0, 0, True, []
    recipients = list(
        await session.scalars(
            select(_R)
            .where(_R.campaign_id == campaign_id, _R.status == "pending")
            .order_by(_R.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    now = utcnow()
    emails: list[dict[str, Any]] = []
    pending: list[PendingDelivery] = []
    for recipient in recipients:
        token = secrets.token_urlsafe(24)
        email = compose(campaign, recipient, token)
        email_id = models.new_id()
        emails.append(
            {
                "id": email_id,
                "org_id": campaign.org_id,
                "case_id": campaign.id,
                "seq": recipient.id,
                "event_id": campaign_email_id(campaign.id, recipient.email, recipient.serial),
                "notice": "campaign",
                "to_address": recipient.email,
                "subject": email.subject,
                "body": email.body,
                "tracking_url": email.link,
                "status": "pending" if config.send_email else "outbox",
                "created_at": now,
            }
        )
        recipient.status = "sent"
        recipient.sent_at = now
        recipient.token_hash = token_hash(token)
        if config.send_email:
            pending.append(
                PendingDelivery(email_id, "email", email_queue(campaign.id), recipient.id, now)
            )
    if emails:
        await session.execute(
            _insert(session, models.Email)
            .values(emails)
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
    left = await session.scalar(
        select(func.count()).where(_R.campaign_id == campaign_id, _R.status == "pending")
    )
    return len(recipients), int(left or 0), False, pending


@dataclass(frozen=True)
class Offer:
    campaign: models.Campaign
    recipient: models.CampaignRecipient
    slug: str


async def offer_by_token(session: AsyncSession, token: str) -> Offer | None:
    """The campaign and recipient an offer link's token opens, or None."""
    row = (
        await session.execute(
            select(_R, models.Campaign, models.Organisation.slug)
            .join(models.Campaign, models.Campaign.id == _R.campaign_id)
            .join(models.Organisation, models.Organisation.id == models.Campaign.org_id)
            .where(_R.token_hash == token_hash(token))
        )
    ).first()
    return None if row is None else Offer(row[1], row[0], row[2])


async def record_response(session: AsyncSession, recipient_id: int, case_id: str) -> None:
    """The customer started a case from the offer (the first one counts)."""
    await session.execute(
        update(_R)
        .where(_R.id == recipient_id, _R.responded_at.is_(None))
        .values(responded_at=utcnow(), response_case_id=case_id)
    )
    await session.commit()


async def organisation_slug(session: AsyncSession, org_id: str) -> str:
    return (
        await session.scalar(
            select(models.Organisation.slug).where(models.Organisation.id == org_id)
        )
    ) or ""


# ------------------------------------------------------------------ warranty-end notices


@dataclass(frozen=True)
class WarrantyUnit:
    line_id: int
    org_id: str
    retailer: str
    sku: str
    product_name: str
    serial: str
    email: str
    name: str
    ends_at: datetime
    plans: list[str]
    # Who reads the notice: the order's customer's locale and time zone, else the retailer's.
    reader: Reader


async def warranty_page(
    session: AsyncSession, now: datetime, after_line: int, limit: int
) -> tuple[list[WarrantyUnit], int | None]:
    """The units sold on order lines after `after_line` (up to `limit` lines read) whose
    warranty ends within the notice period and that were not told yet; and the last line
    read (None when there were none)."""
    P = models.Product
    rows = (
        await session.execute(
            select(
                _L.id,
                _L.org_id,
                _L.sku,
                _L.serial,
                _O.customer_email,
                _O.customer_name,
                _O.placed_at,
                P.name,
                P.warranty_months,
                models.Organisation.name,
                _O.customer_locale,
                _O.customer_time_zone,
                models.Organisation,
            )
            .join(_O, _O.id == _L.order_id)
            .join(P, (P.org_id == _L.org_id) & (P.sku == _L.sku))
            .join(models.Organisation, models.Organisation.id == _L.org_id)
            .where(_L.id > after_line, _L.serial.is_not(None))
            .order_by(_L.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return [], None
    due = []
    for row in rows:
        ends = warranty_ends_at(row[6], row[8])
        if row[4] and warranty_notice_due(ends, now):
            due.append((row, ends))
    told = await _already_told(session, [(r[1], str(r[3])) for r, _ in due])
    plans = await _plan_names(session, {r[1] for r, _ in due})
    units = [
        WarrantyUnit(
            r[0],
            r[1],
            r[9],
            r[2],
            r[7],
            str(r[3]),
            r[4].lower(),
            r[5],
            ends,
            plans.get(r[1], []),
            reader_of(r[10], r[11], r[12]),
        )
        for r, ends in due
        if (r[1], r[3]) not in told
    ]
    return units, rows[-1][0]


async def _already_told(
    session: AsyncSession, units: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    if not units:
        return set()
    W = models.WarrantyNotice
    serials = {serial for _, serial in units}
    found = await session.execute(select(W.org_id, W.serial).where(W.serial.in_(serials)))
    return {(row[0], row[1]) for row in found}


async def _plan_names(session: AsyncSession, org_ids: set[str]) -> dict[str, list[str]]:
    if not org_ids:
        return {}
    C = models.PlanCatalogEntry
    names: dict[str, list[str]] = {}
    for org_id, name in await session.execute(
        select(C.org_id, C.name).where(C.org_id.in_(org_ids)).order_by(C.org_id, C.created_at)
    ):
        names.setdefault(org_id, []).append(name)
    return names


async def record_warranty_notice(
    session: AsyncSession,
    unit: WarrantyUnit,
    subject: str,
    body: str,
    link: str,
    config: OutboxConfig,
) -> tuple[bool, PendingDelivery | None]:
    """Claim the unit's one notice (its primary key) and write its email, in the caller's
    transaction: whether it was written (not when the unit was told already: a retried
    page, an overlapping run), and what to hand to the mail queue (with SMTP)."""
    email_id = models.new_id()
    claimed = await session.execute(
        _insert(session, models.WarrantyNotice)
        .values(
            org_id=unit.org_id,
            serial=unit.serial,
            sku=unit.sku,
            email=unit.email,
            warranty_ends_at=unit.ends_at,
            email_id=email_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["org_id", "serial"])
    )
    if not _rowcount(claimed):
        return False, None
    now = utcnow()
    await session.execute(
        _insert(session, models.Email)
        .values(
            id=email_id,
            org_id=unit.org_id,
            # Not a case: the organisation's own queue of notices.
            case_id=unit.org_id,
            seq=unit.line_id,
            event_id=warranty_email_id(unit.org_id, unit.serial),
            notice="warranty_ending",
            to_address=unit.email,
            subject=subject,
            body=body,
            tracking_url=link,
            status="pending" if config.send_email else "outbox",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    if not config.send_email:
        return True, None
    return True, PendingDelivery(email_id, "email", email_queue(unit.org_id), unit.line_id, now)
