"""A retailer's repair network: when set, its repair jobs go only to these centers."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import OrgKind
from api.commands import answer_once, setup_command_key
from api.deps import AsyncSession, PrincipalDep, SessionDep
from api.errors import Problem
from api.idempotency import IdempotencyKey
from api.schemas.repair_network import RepairNetwork, RepairNetworkPublic
from db.organisations import organisations_of_kind
from db.repair_network import network, replace_network

router = APIRouter(prefix="/v1/repair-network", tags=["repairs"])


@router.put("", response_model=RepairNetworkPublic)
async def put_network(
    body: RepairNetwork,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> RepairNetworkPublic:
    """Replace the network. Jobs already routed stay where they are; an empty list (or
    null) lets routing choose among every center again. A retry with the same
    `Idempotency-Key` gets the first answer and changes nothing."""
    principal.require(OrgKind.RETAILER)
    # Listed twice means listed once; the first mention keeps its place.
    centers = list(dict.fromkeys(body.centers or []))
    if centers:
        known = await organisations_of_kind(session, centers, OrgKind.REPAIR_CENTER.value)
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
    key = setup_command_key(idempotency_key, principal, "put_network", body)

    async def put() -> RepairNetworkPublic:
        await replace_network(session, principal.owner_id, centers)
        return await _public(session, principal.owner_id)

    return await answer_once(session, key, RepairNetworkPublic, put)


@router.get("", response_model=RepairNetworkPublic)
async def get_network(principal: PrincipalDep, session: SessionDep) -> RepairNetworkPublic:
    principal.require(OrgKind.RETAILER)
    return await _public(session, principal.owner_id)


async def _public(session: AsyncSession, retailer_org_id: str) -> RepairNetworkPublic:
    return RepairNetworkPublic(centers=await network(session, retailer_org_id))
