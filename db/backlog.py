"""How much waits to go out, for the worker's metrics: outbox rows no delivery queue holds
yet, and the oldest webhook delivery still pending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models


async def outbox_depth(session: AsyncSession, cap: int) -> dict[str, int]:
    """Per channel, the pending rows not handed over to a delivery queue yet, counted up to
    `cap`: past that the number only says "a lot", and counting a huge backlog on every
    scrape would add to the load that made it. Reads the `handed_over_at` index."""
    depth: dict[str, int] = {}
    # The channels as `db.outbox.PendingDelivery.channel` names them.
    for channel, model in (("webhook", models.WebhookDelivery), ("email", models.Email)):
        waiting = (
            select(model.id)
            .where(model.handed_over_at.is_(None), model.status == "pending")
            .limit(cap)
            .subquery()
        )
        depth[channel] = int(await session.scalar(select(func.count()).select_from(waiting)) or 0)
    return depth


async def oldest_pending_webhook(session: AsyncSession) -> datetime | None:
    """When the oldest webhook delivery still pending (handed over or not) was written;
    None when none is. The partial index of pending deliveries by `created_at` answers it
    from its first entry; the caller still reads it at most once per scrape interval, with a
    timeout."""
    D = models.WebhookDelivery
    found: datetime | None = await session.scalar(
        select(func.min(D.created_at)).where(D.status == "pending")
    )
    return found
