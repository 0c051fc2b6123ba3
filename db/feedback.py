"""Feedback on ended cases: stored once per case (the unique `case_id`), with its
`feedback.received` webhook deliveries in the same transaction (the outbox), listed for the
retailer and for the repair center that worked the job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db import models
from db.outbox import OutboundCase, PendingDelivery, _subscriptions, table_of, webhook_queue
from db.types import utcnow
from domain.events import matches
from domain.feedback import FEEDBACK_RECEIVED, feedback_event_id, needs_follow_up

_F = models.Feedback


class FeedbackAlreadyGiven(Exception):
    """The case has its feedback already."""


@dataclass(frozen=True)
class FeedbackFilter:
    org_id: str | None = None
    receiving_org_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    max_rating: int | None = None
    # Only the low ratings nobody has followed up yet.
    waiting_only: bool = False


async def record_feedback(
    session: AsyncSession, case: models.Case, rating: int, comment: str
) -> tuple[models.Feedback, list[PendingDelivery]]:
    """Store the case's feedback and its webhook deliveries, and commit; raises
    `FeedbackAlreadyGiven` when the case has one (a concurrent request's included)."""
    now = utcnow()
    case_id = case.id
    feedback = models.Feedback(
        id=models.new_id(),
        org_id=case.org_id,
        case_id=case.id,
        case_type=case.case_type,
        receiving_org_id=case.receiving_org_id,
        rating=rating,
        comment=comment,
        needs_follow_up=needs_follow_up(rating),
        created_at=now,
    )
    session.add(feedback)
    try:
        await session.flush()
        pending = await _deliveries(session, case, feedback)
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        # The rollback expired what the session had loaded: `case` is not read again.
        raise FeedbackAlreadyGiven(case_id) from exc
    return feedback, pending


async def _deliveries(
    session: AsyncSession, case: models.Case, feedback: models.Feedback
) -> list[PendingDelivery]:
    """The `feedback.received` deliveries of every subscription that sees the case's
    events, queued after the case's last timeline entry."""
    outbound = OutboundCase(
        id=case.id,
        org_id=case.org_id,
        case_type=case.case_type,
        customer_id=case.customer_id,
        receiving_org_id=case.receiving_org_id,
        tracking_token=case.tracking_token,
        links=case.links,
        data=case.data,
    )
    subscriptions = [
        s for s in await _subscriptions(session, outbound) if matches(s.events, FEEDBACK_RECEIVED)
    ]
    if not subscriptions:
        return []
    last = await session.scalar(
        select(func.max(models.TimelineEvent.seq)).where(models.TimelineEvent.case_id == case.id)
    )
    seq = (last or 0) + 1
    event_id = feedback_event_id(case.id)
    payload = feedback_payload(case, feedback, event_id)
    rows: list[dict[str, Any]] = []
    pending: list[PendingDelivery] = []
    for subscription in subscriptions:
        delivery_id = models.new_id()
        rows.append(
            {
                "id": delivery_id,
                "subscription_id": subscription.id,
                "case_id": case.id,
                "seq": seq,
                "event_id": event_id,
                "type": FEEDBACK_RECEIVED,
                "payload": payload,
                "created_at": feedback.created_at,
            }
        )
        pending.append(
            PendingDelivery(
                delivery_id,
                "webhook",
                webhook_queue(subscription.id, case.id),
                seq,
                feedback.created_at,
            )
        )
    await session.execute(insert(table_of(models.WebhookDelivery)), rows)
    return pending


def feedback_payload(case: models.Case, feedback: models.Feedback, event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": FEEDBACK_RECEIVED,
        "case_type": case.case_type,
        "case_id": case.id,
        "status": case.status,
        "occurred_at": feedback.created_at.isoformat(),
        "data": {
            "feedback_id": feedback.id,
            "rating": feedback.rating,
            "comment": feedback.comment,
            "needs_follow_up": feedback.needs_follow_up,
        },
    }


async def feedback_given(session: AsyncSession, case_id: str) -> bool:
    return (await session.scalar(select(_F.id).where(_F.case_id == case_id))) is not None


async def feedback_page(
    session: AsyncSession,
    where: FeedbackFilter,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[models.Feedback]:
    """Newest first, keyset-paged over (created_at, id) before `before`."""
    query = select(_F)
    if where.org_id is not None:
        query = query.where(_F.org_id == where.org_id)
    if where.receiving_org_id is not None:
        query = query.where(_F.receiving_org_id == where.receiving_org_id)
    if where.since is not None:
        query = query.where(_F.created_at >= where.since)
    if where.until is not None:
        query = query.where(_F.created_at < where.until)
    if where.max_rating is not None:
        query = query.where(_F.rating <= where.max_rating)
    if where.waiting_only:
        query = query.where(*_waiting())
    if before is not None:
        query = query.where(tuple_(_F.created_at, _F.id) < tuple_(*before))
    query = query.order_by(_F.created_at.desc(), _F.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


def _waiting() -> tuple[InstrumentedAttribute[bool], ColumnElement[bool]]:
    # Written as the partial index `ix_feedback_follow_up` is, so that it serves them.
    return (_F.needs_follow_up, _F.followed_up_at.is_(None))


def follow_ups_statement(org_id: Any) -> Select[Any]:
    """`SELECT count(*) FROM feedback WHERE org_id = :org AND needs_follow_up AND
    followed_up_at IS NULL`; `org_id` a value or a bound literal (the console's home page
    makes it one of its counts)."""
    return select(func.count()).select_from(_F).where(_F.org_id == org_id, *_waiting())


async def follow_ups_waiting(session: AsyncSession, org_id: str) -> int:
    """How many of the retailer's low ratings wait for someone to follow them up."""
    count = await session.scalar(follow_ups_statement(org_id))
    return int(count or 0)


async def mark_followed_up(session: AsyncSession, org_id: str, feedback_id: str) -> bool:
    """Staff have called the customer back: the rating no longer waits. False when the
    organisation has no such feedback."""
    feedback = await session.get(_F, feedback_id, with_for_update=True)
    if feedback is None or feedback.org_id != org_id:
        return False
    if feedback.followed_up_at is None:
        feedback.followed_up_at = utcnow()
    await session.commit()
    return True
