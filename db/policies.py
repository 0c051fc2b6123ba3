"""A retailer's policy document (return window, fees, currency...), as the retailer last
put it; each case copies it at creation, so a new policy reaches new cases only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow


async def policy_document(session: AsyncSession, org_id: str) -> dict[str, Any]:
    """The stored document; empty (every field its default) if the retailer has none."""
    row = await session.get(models.RetailerPolicy, org_id)
    return dict(row.document) if row else {}


_ORG, _POLICY = models.Organisation.__table__, models.RetailerPolicy.__table__
# Built once, the organisation bound at execution: every case's creation asks it.
_NAME_AND_POLICY = (
    select(_ORG.c.name, _POLICY.c.document)
    .select_from(_ORG.outerjoin(_POLICY, _POLICY.c.org_id == _ORG.c.id))
    .where(_ORG.c.id == bindparam("org_id"))
)


async def name_and_policy(session: AsyncSession, org_id: str) -> tuple[str, dict[str, Any]] | None:
    """The organisation's name and its policy document (empty if it has none), as every case
    copies them at creation, in one statement over the tables (no ORM loading); None: no
    such organisation."""
    row = (await session.execute(_NAME_AND_POLICY, {"org_id": org_id})).first()
    if row is None:
        return None
    return row.name, dict(row.document) if row.document is not None else {}


async def replace_policy(session: AsyncSession, org_id: str, document: dict[str, Any]) -> None:
    """Replace the retailer's policy document (commits)."""
    row = await session.get(models.RetailerPolicy, org_id)
    if row is None:
        session.add(models.RetailerPolicy(org_id=org_id, document=document))
    else:
        row.document = document
        row.updated_at = utcnow()
    await session.commit()
