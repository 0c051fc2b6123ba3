"""Repair centers' own profiles (what they fix, where, how many a day, at what rate),
which routing reads, and the jobs each has open."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from domain.common import CLOSED_STATUSES


async def put_profile(session: AsyncSession, org_id: str, fields: dict[str, Any]) -> None:
    """Write the center's profile columns (`fields`), creating it the first time (commits)."""
    row = await session.get(models.RepairCenter, org_id)
    if row is None:
        session.add(models.RepairCenter(org_id=org_id, **fields))
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    await session.commit()


async def profile(session: AsyncSession, org_id: str) -> models.RepairCenter | None:
    """The center's profile as committed now (read afresh after a write), or None."""
    return await session.get(models.RepairCenter, org_id, populate_existing=True)


async def open_jobs(session: AsyncSession, org_id: str) -> int:
    """Repair jobs sent to the center that have not ended."""
    count = await session.scalar(
        select(func.count()).where(
            models.Case.case_type == "repair",
            models.Case.receiving_org_id == org_id,
            models.Case.status.not_in(CLOSED_STATUSES),
        )
    )
    return int(count or 0)
