"""A retailer's repair network: the centers its repair jobs may go to, in its order."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow


async def replace_network(
    session: AsyncSession, retailer_org_id: str, centers: Sequence[str]
) -> None:
    """The retailer's network is `centers`, in this order (commits)."""
    # Two PUTs at once would otherwise both delete, then collide inserting the same rows.
    await session.get(models.Organisation, retailer_org_id, with_for_update=True)
    await session.execute(
        delete(models.RepairNetworkMember).where(
            models.RepairNetworkMember.retailer_org_id == retailer_org_id
        )
    )
    now = utcnow()
    session.add_all(
        models.RepairNetworkMember(
            retailer_org_id=retailer_org_id,
            center_org_id=center,
            position=position,
            added_at=now,
        )
        for position, center in enumerate(centers)
    )
    await session.commit()


async def network(session: AsyncSession, retailer_org_id: str) -> list[str]:
    """The retailer's centers in its order; empty when it has set none."""
    centers = await session.scalars(
        select(models.RepairNetworkMember.center_org_id)
        .where(models.RepairNetworkMember.retailer_org_id == retailer_org_id)
        .order_by(models.RepairNetworkMember.position)
    )
    return list(centers)
