"""Organisations (retailers, repair centers): made by the admin, read by every request
that needs their name, and locked while a quota is checked."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import models


async def create_organisation(session: AsyncSession, name: str, kind: str) -> models.Organisation:
    """A new organisation (commits)."""
    org = models.Organisation(name=name, kind=kind)
    session.add(org)
    await session.commit()
    return org


async def organisation(session: AsyncSession, org_id: str) -> models.Organisation | None:
    return await session.get(models.Organisation, org_id)


async def organisations_of_kind(
    session: AsyncSession, org_ids: Sequence[str], kind: str
) -> set[str]:
    """Those of `org_ids` that are organisations of this kind."""
    found = await session.scalars(
        select(models.Organisation.id).where(
            models.Organisation.id.in_(org_ids), models.Organisation.kind == kind
        )
    )
    return set(found.all())


async def lock_organisation(session: AsyncSession, org_id: str) -> None:
    """Hold the organisation's row until the caller commits, so a check of what the
    organisation has (a count against its quota) and the insert that follows are one step
    for it. An UPDATE, not SELECT … FOR UPDATE: it locks the row on PostgreSQL and opens the
    write transaction on SQLite, where FOR UPDATE is ignored."""
    table = models.Organisation
    await session.execute(update(table).where(table.id == org_id).values(name=table.name))
