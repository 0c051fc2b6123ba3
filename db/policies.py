"""A retailer's policy document (return window, fees, currency...), as the retailer last
put it; each case copies it at creation, so a new policy reaches new cases only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow


async def policy_document(session: AsyncSession, org_id: str) -> dict[str, Any]:
    """The stored document; empty (every field its default) if the retailer has none."""
    row = await session.get(models.RetailerPolicy, org_id)
    return dict(row.document) if row else {}


async def replace_policy(session: AsyncSession, org_id: str, document: dict[str, Any]) -> None:
    """Replace the retailer's policy document (commits)."""
    row = await session.get(models.RetailerPolicy, org_id)
    if row is None:
        session.add(models.RetailerPolicy(org_id=org_id, document=document))
    else:
        row.document = document
        row.updated_at = utcnow()
    await session.commit()
