"""A repair center's own profile, which routing reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import OrgKind
from api.deps import PrincipalDep, SessionDep
from api.errors import not_found
from api.schemas.common import MoneyIO
from api.schemas.repair import RepairCenterProfile, RepairCenterPublic
from db import models
from db.types import utcnow
from domain.common import CLOSED_STATUSES

router = APIRouter(prefix="/v1/repair-centers", tags=["repairs"])


@router.put("/me", response_model=RepairCenterPublic)
async def put_profile(
    body: RepairCenterProfile, principal: PrincipalDep, session: SessionDep
) -> RepairCenterPublic:
    """Replace the profile; new jobs are routed by it at once, assigned ones stay."""
    principal.require(OrgKind.REPAIR_CENTER)
    rate, currency = (
        (body.labor_rate.amount, body.labor_rate.currency)
        if isinstance(body.labor_rate, MoneyIO)
        else (body.labor_rate, "USD")
    )
    fields: dict[str, Any] = {
        # Sorted and deduplicated: the profile reads back the same however it was sent.
        "categories": sorted(set(body.categories)),
        "regions": sorted(set(body.regions)),
        "daily_capacity": body.daily_capacity,
        "labor_rate": rate.quantize(Decimal("0.01")),
        "currency": currency,
        "address": body.address.model_dump(),
        "updated_at": utcnow(),
    }
    row = await session.get(models.RepairCenter, principal.owner_id)
    if row is None:
        session.add(models.RepairCenter(org_id=principal.owner_id, **fields))
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    await session.commit()
    return await _public(session, principal.owner_id)


@router.get("/me", response_model=RepairCenterPublic)
async def get_profile(principal: PrincipalDep, session: SessionDep) -> RepairCenterPublic:
    principal.require(OrgKind.REPAIR_CENTER)
    return await _public(session, principal.owner_id)


async def _public(session: AsyncSession, org_id: str) -> RepairCenterPublic:
    row = await session.get(models.RepairCenter, org_id, populate_existing=True)
    if row is None:
        raise not_found("repair center profile")
    open_jobs = await session.scalar(
        select(func.count()).where(
            models.Case.case_type == "repair",
            models.Case.receiving_org_id == org_id,
            models.Case.status.not_in(CLOSED_STATUSES),
        )
    )
    return RepairCenterPublic(
        org_id=org_id,
        categories=list(row.categories),
        regions=list(row.regions),
        daily_capacity=row.daily_capacity,
        labor_rate=MoneyIO.of(Decimal(row.labor_rate), row.currency),
        address=dict(row.address),
        open_jobs=int(open_jobs or 0),
    )
