"""Webhook subscriptions: what each organisation asked to be sent, where, and signed with
which secret (stored encrypted by `db.secret_box`). (Their deliveries are in
`db.webhook_deliveries`.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.models import new_id
from db.organisations import lock_organisation
from db.secret_box import SecretBox
from db.types import utcnow


class QuotaReached(Exception):
    """The organisation has as many active subscriptions as it may."""

    def __init__(self, quota: int) -> None:
        super().__init__(f"at most {quota} active webhooks")
        self.quota = quota


async def create_subscription(
    session: AsyncSession,
    org_id: str,
    *,
    url: str,
    events: list[str],
    secret: str,
    box: SecretBox,
    quota: int,
    claim: Callable[[str], Awaitable[str | None]] | None = None,
) -> models.WebhookSubscription:
    """A new subscription (commits), or the one a first request with the same
    Idempotency-Key made.

    One subscription write at a time per organisation (its row is locked first): the quota
    count and the insert, and a retry with the same key and its first request, cannot
    interleave. `claim(new_id)`, run under that lock, is the key's reservation in this
    transaction: the id its first request made, or None after adding the key's record for
    `new_id`, committed with the subscription. Raises `QuotaReached` (nothing written)."""
    await lock_organisation(session, org_id)
    sub_id = new_id()
    if claim is not None:
        first = await claim(sub_id)
        if first is not None:
            await session.rollback()
            existing = await session.get(models.WebhookSubscription, first)
            assert existing is not None  # committed with its key
            return existing
    table = models.WebhookSubscription
    active = await session.scalar(
        select(func.count())
        .select_from(table)
        .where(table.org_id == org_id, table.disabled_at.is_(None))
    )
    if (active or 0) >= quota:
        await session.rollback()
        raise QuotaReached(quota)
    sub = table(id=sub_id, org_id=org_id, url=url, events=events, secret=box.encrypt(secret))
    session.add(sub)
    await session.commit()
    return sub


async def subscriptions_of(session: AsyncSession, org_id: str) -> list[models.WebhookSubscription]:
    """The organisation's subscriptions, disabled ones included, oldest first."""
    table = models.WebhookSubscription
    rows = await session.scalars(
        select(table).where(table.org_id == org_id).order_by(table.created_at, table.id)
    )
    return list(rows.all())


async def subscription(
    session: AsyncSession, org_id: str, subscription_id: str
) -> models.WebhookSubscription | None:
    """The subscription if it is the organisation's."""
    sub = await session.get(models.WebhookSubscription, subscription_id)
    return sub if sub is not None and sub.org_id == org_id else None


async def disable(session: AsyncSession, sub: models.WebhookSubscription) -> None:
    """Stop queueing events for it (commits); disabling twice keeps the first time."""
    if sub.disabled_at is None:
        sub.disabled_at = utcnow()
        await session.commit()


async def rotate_secret(
    session: AsyncSession,
    sub: models.WebhookSubscription,
    secret: str,
    box: SecretBox,
    overlap: timedelta,
) -> None:
    """Sign with `secret` from now on, and with the current one beside it for `overlap`
    (commits). Under the row's lock: two rotations at once keep one previous secret."""
    await session.refresh(sub, with_for_update=True)
    sub.previous_secret = sub.secret
    sub.previous_secret_expires_at = utcnow() + overlap
    sub.secret = box.encrypt(secret)
    await session.commit()


def signing_secret(sub: models.WebhookSubscription, box: SecretBox) -> str:
    """The subscription's current secret in clear, for its organisation's eyes only."""
    return box.decrypt(sub.secret)
