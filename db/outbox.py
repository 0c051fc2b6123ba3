"""The transactional outbox: webhook deliveries and customer emails are written in the same
transaction as the timeline entries they report, so an event is never recorded without its
deliveries nor delivered without being recorded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    BindParameter,
    Row,
    ScalarSelect,
    String,
    Table,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.readers import Reader, case_reader
from domain.contracts.facts import first_name_of, payment_action_of
from domain.events import event_id, event_type, matches, receives_events_of
from domain.notifications import notice_for
from presentation.emails import EmailContext, compose


@dataclass(frozen=True)
class OutboxConfig:
    public_base_url: str
    # Emails wait in the outbox (development) or are queued for the SMTP server.
    send_email: bool


def table_of(model: type[models.Base]) -> Table:
    """A model's table, for Core statements (no unit of work, no identity map)."""
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class Subscription:
    """An enabled webhook subscription: its id and the events it asked for."""

    id: str
    events: list[str]


@dataclass(frozen=True)
class OutboundCase:
    """What the outbox reads of a case: who gets its events, and what they carry."""

    id: str
    org_id: str
    case_type: str
    customer_id: str | None
    receiving_org_id: str | None
    tracking_token: str
    links: dict[str, Any]
    data: dict[str, Any]
    # The customer's address, the retailer's name and the reader of the case's emails, when
    # the caller read them already (one statement fewer each); None: read here, if an email
    # needs them.
    customer_email: str | None = None
    retailer: str | None = None
    reader: Reader | None = None
    # The enabled subscriptions that see its events, when the caller read them already
    # (`case_subscriptions`); None: read here.
    subscriptions: list[Subscription] | None = None


@dataclass(frozen=True)
class _Recipient:
    email: str


class StoredEntry(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def detail(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class NewEvent:
    entry: StoredEntry
    previous_status: str | None


@dataclass(frozen=True)
class PendingDelivery:
    id: str
    channel: str  # "webhook" | "email"
    queue: str  # deliveries in one queue go out one at a time, in seq order
    seq: int
    created_at: datetime  # the retry window runs from here


class Dispatches(Protocol):
    """Takes over deliveries already committed, to hand them to their queues."""

    async def dispatch(self, pending: list[PendingDelivery]) -> None: ...


def webhook_queue(subscription_id: str, case_id: str) -> str:
    """The delivery queue's workflow ID: one per subscription and case."""
    return f"webhooks:{subscription_id}:{case_id}"


def email_queue(case_id: str) -> str:
    return f"emails:{case_id}"


def tracking_url(base_url: str, token: str) -> str:
    return f"{base_url}/track/{token}"


async def write_outbound(
    session: AsyncSession, case: OutboundCase, events: list[NewEvent], config: OutboxConfig
) -> list[PendingDelivery]:
    """Write the deliveries and emails these new entries call for (Core inserts, one per
    table); answer those to send."""
    written: list[PendingDelivery] = []
    if not events:
        return written
    subscriptions = case.subscriptions
    if subscriptions is None:
        subscriptions = await _subscriptions(session, case)
    deliveries: list[dict[str, Any]] = []
    emails: list[dict[str, Any]] = []
    notices = [
        (
            event,
            notice_for(
                case.case_type,
                event.entry.event,
                event.entry.status,
                event.previous_status,
                linked_rma="rma_id" in case.links,
            ),
        )
        for event in events
    ]
    customer = None
    reader = case.reader
    retailer = case.retailer or ""
    if any(notice for _, notice in notices) and case.customer_id:
        if case.customer_email is not None:
            customer = _Recipient(case.customer_email)
        else:
            address = await session.scalar(
                select(models.CustomerRecord.email).where(
                    models.CustomerRecord.id == case.customer_id
                )
            )
            customer = _Recipient(address) if address is not None else None
        if case.retailer is None:
            retailer = (
                await session.scalar(
                    select(models.Organisation.name).where(models.Organisation.id == case.org_id)
                )
            ) or ""
    for event, notice in notices:
        entry = event.entry
        type_ = event_type(case.case_type, entry.status, entry.event, event.previous_status)
        eid = event_id(case.id, entry.seq)
        payload = _payload(case, entry, type_, eid)
        for subscription in subscriptions:
            if matches(subscription.events, type_):
                delivery_id = models.new_id()
                deliveries.append(
                    {
                        "id": delivery_id,
                        "subscription_id": subscription.id,
                        "case_id": case.id,
                        "seq": entry.seq,
                        "event_id": eid,
                        "type": type_,
                        "payload": payload,
                        "created_at": entry.at,
                    }
                )
                written.append(
                    PendingDelivery(
                        delivery_id,
                        "webhook",
                        webhook_queue(subscription.id, case.id),
                        entry.seq,
                        entry.at,
                    )
                )
        if notice is None or customer is None or not customer.email:
            continue
        if reader is None:
            reader = await case_reader(session, case.org_id, case.customer_id)
        link = tracking_url(config.public_base_url, case.tracking_token)
        action = payment_action_of(case.data)
        email = compose(
            notice,
            EmailContext(
                first_name=first_name_of(case.data),
                case_id=case.id,
                retailer=retailer,
                tracking_url=link,
                detail={k: str(v) for k, v in entry.detail.items()},
                action_url=action.url if action else "",
                t=reader.t,
            ),
        )
        email_id = models.new_id()
        emails.append(
            {
                "id": email_id,
                "org_id": case.org_id,
                "case_id": case.id,
                "seq": entry.seq,
                "event_id": eid,
                "notice": notice.value,
                "to_address": customer.email,
                "subject": email.subject,
                "body": email.body,
                "tracking_url": link,
                "status": "pending" if config.send_email else "outbox",
                "created_at": entry.at,
            }
        )
        if config.send_email:
            written.append(
                PendingDelivery(email_id, "email", email_queue(case.id), entry.seq, entry.at)
            )
    if deliveries:
        await session.execute(insert(table_of(models.WebhookDelivery)), deliveries)
    if emails:
        await session.execute(insert(table_of(models.Email)), emails)
    return written


async def pending_deliveries(
    session: AsyncSession, case_id: str, seqs: list[int]
) -> list[PendingDelivery]:
    """What still waits to go out for entries stored by an earlier attempt, which may have
    stopped before handing them to their queue (a crash between commit and dispatch): not
    what is marked as handed over already."""
    if not seqs:
        return []
    return await _pending(session, case_id, seqs, unmarked_only=True)


async def all_pending_deliveries(session: AsyncSession) -> list[PendingDelivery]:
    """Every delivery and email still to send, for an operator re-handing them over."""
    return await _pending(session, None, None)


async def not_handed_over(session: AsyncSession, limit: int) -> list[str]:
    """The ids of pending deliveries and emails no queue is known to hold yet (at most
    `limit` of each, oldest first): each is being handed over, or its worker died first."""
    D, E = models.WebhookDelivery, models.Email
    found: list[str] = []
    for model in (D, E):
        found += await session.scalars(
            select(model.id)
            .where(model.handed_over_at.is_(None), model.status == "pending")
            .order_by(model.created_at)
            .limit(limit)
        )
    return found


async def claim(session: AsyncSession, ids: list[str]) -> list[PendingDelivery]:
    """Of `ids`, those still pending and unmarked, locked until `session` ends: on
    PostgreSQL another worker's claim skips them (and takes them if this one dies before
    marking them). SQLite has no row locks: two workers sweeping the same second may both
    hand a row over, which its queue ignores the second time."""
    D, E = models.WebhookDelivery, models.Email
    if not ids:
        return []
    webhooks = (
        select(D.id, D.subscription_id, D.case_id, D.seq, D.created_at)
        .where(D.id.in_(ids), D.handed_over_at.is_(None), D.status == "pending")
        .with_for_update(skip_locked=True)
    )
    emails = (
        select(E.id, E.case_id, E.seq, E.created_at)
        .where(E.id.in_(ids), E.handed_over_at.is_(None), E.status == "pending")
        .with_for_update(skip_locked=True)
    )
    return _pending_rows(
        (await session.execute(webhooks)).all(), (await session.execute(emails)).all()
    )


async def mark_handed_over(
    session: AsyncSession, deliveries: list[PendingDelivery], at: datetime
) -> None:
    """Their queues hold them now: no sweep hands them over again."""
    for channel, model in (("webhook", models.WebhookDelivery), ("email", models.Email)):
        ids = [d.id for d in deliveries if d.channel == channel]
        if ids:
            await session.execute(
                update(model)
                .where(model.id.in_(ids), model.handed_over_at.is_(None))
                .values(handed_over_at=at)
            )


async def _pending(
    session: AsyncSession,
    case_id: str | None,
    seqs: list[int] | None,
    unmarked_only: bool = False,
) -> list[PendingDelivery]:
    D, E = models.WebhookDelivery, models.Email
    webhooks = select(D.id, D.subscription_id, D.case_id, D.seq, D.created_at).where(
        D.status == "pending"
    )
    emails = select(E.id, E.case_id, E.seq, E.created_at).where(E.status == "pending")
    if case_id is not None:
        webhooks = webhooks.where(D.case_id == case_id)
        emails = emails.where(E.case_id == case_id)
    if seqs is not None:
        webhooks = webhooks.where(D.seq.in_(seqs))
        emails = emails.where(E.seq.in_(seqs))
    if unmarked_only:
        webhooks = webhooks.where(D.handed_over_at.is_(None))
        emails = emails.where(E.handed_over_at.is_(None))
    return _pending_rows(
        (await session.execute(webhooks)).all(), (await session.execute(emails)).all()
    )


def _pending_rows(
    webhooks: Sequence[Row[str, str, str, int, datetime]],
    emails: Sequence[Row[str, str, int, datetime]],
) -> list[PendingDelivery]:
    found = [
        PendingDelivery(
            row.id,
            "webhook",
            webhook_queue(row.subscription_id, row.case_id),
            row.seq,
            row.created_at,
        )
        for row in webhooks
    ] + [
        PendingDelivery(row.id, "email", email_queue(row.case_id), row.seq, row.created_at)
        for row in emails
    ]
    return sorted(found, key=lambda d: (d.queue, d.seq))


_ORG_IDS: BindParameter[list[str]] = bindparam("org_ids", expanding=True)
# Built once (projections run it for every new entry): see db.projection._CASE_ROW.
_ENABLED_SUBSCRIPTIONS = select(
    models.WebhookSubscription.id, models.WebhookSubscription.events
).where(
    models.WebhookSubscription.org_id.in_(_ORG_IDS),
    models.WebhookSubscription.disabled_at.is_(None),
)


async def _subscriptions(session: AsyncSession, case: OutboundCase) -> list[Subscription]:
    """The enabled subscriptions that see this case's events (their id and event filter)."""
    rows = await session.execute(_ENABLED_SUBSCRIPTIONS, {"org_ids": _watching(case)})
    return [Subscription(row.id, row.events) for row in rows]


def _watching(case: OutboundCase) -> list[str]:
    """The organisations whose subscriptions see this case's events."""
    orgs = [case.org_id]
    if case.receiving_org_id and receives_events_of(case.case_type):
        orgs.append(case.receiving_org_id)
    return orgs


def case_subscriptions(cases: Table) -> ScalarSelect[str]:
    """For a read of a case row to carry: the enabled subscriptions of the case's
    organisation and of the one it is shipped to, one line each ("org_id id events"), read
    back by `subscriptions_from`. One statement where a projection made two."""
    subscriptions = table_of(models.WebhookSubscription)
    line = (
        subscriptions.c.org_id.concat(" ")
        .concat(subscriptions.c.id)
        .concat(" ")
        .concat(subscriptions.c.events.cast(String))
    )
    return (
        select(func.aggregate_strings(line, "\n"))
        .where(
            or_(
                subscriptions.c.org_id == cases.c.org_id,
                subscriptions.c.org_id == cases.c.receiving_org_id,
            ),
            subscriptions.c.disabled_at.is_(None),
        )
        .scalar_subquery()
    )


def subscriptions_from(joined: str | None, case: OutboundCase) -> list[Subscription]:
    """What `case_subscriptions` read, of the organisations that see `case`'s events. Ids
    and organisation ids hold no spaces, and JSON text no raw line break."""
    watching = _watching(case)
    found = []
    for line in (joined or "").splitlines():
        org_id, subscription_id, events = line.split(" ", 2)
        if org_id in watching:
            found.append(Subscription(subscription_id, json.loads(events)))
    return found


def _payload(case: OutboundCase, entry: StoredEntry, type_: str, eid: str) -> dict[str, Any]:
    links = {
        name: value
        for name, value in case.links.items()
        if name in ("rma_id", "repair_id", "replacement_id", "service_plan_id", "relocation_id")
    }
    return {
        "event_id": eid,
        "type": type_,
        "case_type": case.case_type,
        "case_id": case.id,
        "status": entry.status,
        "occurred_at": entry.at.isoformat(),
        "data": {
            "event": entry.event,
            "actor": entry.actor,
            "sequence": entry.seq,
            "detail": dict(entry.detail),
            **links,
        },
    }
