"""A retailer's repair network: when set, its repair jobs go only to these centers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import OrgKind
from api.deps import PrincipalDep, SessionDep
from api.errors import Problem
from api.schemas.repair_network import RepairNetwork, RepairNetworkPublic
from db import models
from db.types import utcnow

router = APIRouter(prefix="/v1/repair-network", tags=["repairs"])


@router.put("", response_model=RepairNetworkPublic)
async def put_network(
    body: RepairNetwork, principal: PrincipalDep, session: SessionDep
) -> RepairNetworkPublic:
    """Replace the network. Jobs already routed stay where they are; an empty list (or
    null) lets routing choose among every center again."""
    principal.require(OrgKind.RETAILER)
    # Listed twice means listed once; the first mention keeps its place.
    centers = list(dict.fromkeys(body.centers or []))
    if centers:
        known = set(
            (
                await session.scalars(
                    select(models.Organisation.id).where(
                        models.Organisation.id.in_(centers),
                        models.Organisation.kind == OrgKind.REPAIR_CENTER.value,
                    )
                )
            ).all()
        )
        unknown = [center for center in centers if center not in known]
        if unknown:
            # One answer for "no such org" and "not a repair center": which organisations
            # exist is not the retailer's to learn.
            raise Problem(
                422,
                "unknown_repair_center",
                f"not repair centers: {', '.join(unknown)}",
                centers=unknown,
            )
    # Two PUTs at once would otherwise both delete, then collide inserting the same rows.
    await session.get(models.Organisation, principal.owner_id, with_for_update=True)
    await session.execute(
        delete(models.RepairNetworkMember).where(
            models.RepairNetworkMember.retailer_org_id == principal.owner_id
        )
    )
    now = utcnow()
    session.add_all(
        models.RepairNetworkMember(
            retailer_org_id=principal.owner_id,
            center_org_id=center,
            position=position,
            added_at=now,
        )
        for position, center in enumerate(centers)
    )
    await session.commit()
    return await _public(session, principal.owner_id)


@router.get("", response_model=RepairNetworkPublic)
async def get_network(principal: PrincipalDep, session: SessionDep) -> RepairNetworkPublic:
    principal.require(OrgKind.RETAILER)
    return await _public(session, principal.owner_id)


async def _public(session: AsyncSession, retailer_org_id: str) -> RepairNetworkPublic:
    centers = await session.scalars(
        select(models.RepairNetworkMember.center_org_id)
        .where(models.RepairNetworkMember.retailer_org_id == retailer_org_id)
        .order_by(models.RepairNetworkMember.position)
    )
    return RepairNetworkPublic(centers=list(centers))
