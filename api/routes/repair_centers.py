"""A repair center's own profile, which routing reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from api.auth import OrgKind
from api.commands import answer_once, setup_command_key
from api.deps import AsyncSession, PrincipalDep, SessionDep
from api.errors import invalid_amount, not_found
from api.idempotency import IdempotencyKey
from api.schemas.common import AmountError, MoneyIO, check_amount
from api.schemas.repair import RepairCenterProfile, RepairCenterPublic
from db import repair_centers
from db.types import utcnow

router = APIRouter(prefix="/v1/repair-centers", tags=["repairs"])


@router.put("/me", response_model=RepairCenterPublic)
async def put_profile(
    body: RepairCenterProfile,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> RepairCenterPublic:
    """Replace the profile; new jobs are routed by it at once, assigned ones stay. A retry
    with the same `Idempotency-Key` gets the first answer and changes nothing."""
    principal.require(OrgKind.REPAIR_CENTER)
    # A bare rate is in US dollars; either way, exactly its currency's minor units.
    currency = body.labor_rate.currency if isinstance(body.labor_rate, MoneyIO) else "USD"
    try:
        rate = check_amount(("labor_rate",), body.labor_rate, currency)
    except AmountError as exc:
        raise invalid_amount(exc.field, exc) from exc
    fields: dict[str, Any] = {
        # Sorted and deduplicated: the profile reads back the same however it was sent.
        "categories": sorted(set(body.categories)),
        "regions": sorted(set(body.regions)),
        "daily_capacity": body.daily_capacity,
        "labor_rate": rate,
        "currency": currency,
        "address": body.address.model_dump(),
        "updated_at": utcnow(),
    }
    key = setup_command_key(idempotency_key, principal, "put_repair_center", body)

    async def put() -> RepairCenterPublic:
        await repair_centers.put_profile(session, principal.owner_id, fields)
        return await _public(session, principal.owner_id)

    return await answer_once(session, key, RepairCenterPublic, put)


@router.get("/me", response_model=RepairCenterPublic)
async def get_profile(principal: PrincipalDep, session: SessionDep) -> RepairCenterPublic:
    principal.require(OrgKind.REPAIR_CENTER)
    return await _public(session, principal.owner_id)


async def _public(session: AsyncSession, org_id: str) -> RepairCenterPublic:
    row = await repair_centers.profile(session, org_id)
    if row is None:
        raise not_found("repair center profile")
    return RepairCenterPublic(
        org_id=org_id,
        categories=list(row.categories),
        regions=list(row.regions),
        daily_capacity=row.daily_capacity,
        labor_rate=MoneyIO.of(Decimal(row.labor_rate), row.currency),
        address=dict(row.address),
        open_jobs=await repair_centers.open_jobs(session, org_id),
    )
