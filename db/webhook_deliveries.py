"""The webhook delivery log: each event queued for a subscription, its attempts, and
sending one again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from db import models

_D = models.WebhookDelivery


async def delivery_page(
    session: AsyncSession,
    subscription_id: str,
    *,
    status: str | None,
    case_id: str | None,
    before: tuple[datetime, int, str] | None,
    limit: int,
) -> list[models.WebhookDelivery]:
    """Up to `limit` of the subscription's deliveries, newest first, keyset-paged over
    (created_at, seq, id) before the `before` key."""
    query = select(_D).where(_D.subscription_id == subscription_id)
    if status:
        query = query.where(_D.status == status)
    if case_id:
        query = query.where(_D.case_id == case_id)
    # Newest first; a case's events share timestamps, so its sequence breaks the tie.
    key = tuple_(_D.created_at, _D.seq, _D.id)
    if before is not None:
        query = query.where(key < tuple_(*before))
    order = (_D.created_at.desc(), _D.seq.desc(), _D.id.desc())
    return list((await session.scalars(query.order_by(*order).limit(limit))).all())


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, list[models.WebhookAttempt]]:
    """Each delivery's attempts in order, in one query."""
    attempts: dict[str, list[models.WebhookAttempt]] = {d: [] for d in delivery_ids}
    if delivery_ids:
        table = models.WebhookAttempt
        for attempt in await session.scalars(
            select(table)
            .where(table.delivery_id.in_(list(attempts)))
            .order_by(table.delivery_id, table.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return attempts


async def lock_delivery(session: AsyncSession, delivery_id: str) -> models.WebhookDelivery | None:
    """The delivery, its row locked until the caller commits."""
    return await session.get(models.WebhookDelivery, delivery_id, with_for_update=True)


@dataclass(frozen=True)
class Ended:
    """How a delivery had ended, to put back if sending it again fails."""

    status: str
    delivered_at: datetime | None
    failed_at: datetime | None


async def reopen(session: AsyncSession, delivery: models.WebhookDelivery) -> Ended:
    """Pending again, counted as a redelivery (commits); the answer is how it had ended."""
    before = Ended(delivery.status, delivery.delivered_at, delivery.failed_at)
    delivery.status, delivery.delivered_at, delivery.failed_at = "pending", None, None
    delivery.redeliveries += 1
    await session.commit()
    return before


async def undo_reopen(
    session: AsyncSession, delivery: models.WebhookDelivery, before: Ended
) -> None:
    """Put back what `reopen` changed (commits): the delivery was not queued after all."""
    delivery.status, delivery.delivered_at, delivery.failed_at = (
        before.status,
        before.delivered_at,
        before.failed_at,
    )
    delivery.redeliveries -= 1
    await session.commit()
