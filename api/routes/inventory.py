"""Replacement stock per SKU. Adding stock wakes backordered replacements in request order."""

from __future__ import annotations

from fastapi import APIRouter
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import OrgKind
from api.catalog import catalog
from api.commands import answer_once, setup_command_key
from api.deps import AsyncSession, PrincipalDep, SessionDep, TemporalDep
from api.errors import Problem
from api.idempotency import IdempotencyKey
from api.schemas.replacement import InventoryIn, InventoryOut
from db.inventory import backorders, on_hand, release, reserve_for_backorder, set_on_hand
from domain.replacement import STOCK_RESERVED_SIGNAL, StockReserved, reservation_key

router = APIRouter(prefix="/v1/inventory", tags=["replacements"])


@router.put("/{sku}", response_model=InventoryOut)
async def put_stock(
    sku: str,
    body: InventoryIn,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> InventoryOut:
    """Set the units on hand. Backordered replacements of this SKU get the new units first
    come, first served; fewer units than are promised to open cases is a 409. A retry with
    the same `Idempotency-Key` gets the first answer and sets nothing again: units handed
    out since then stay handed out."""
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    await catalog(session, org_id, {sku})
    key = setup_command_key(
        idempotency_key, principal, "put_stock", {"sku": sku, **body.model_dump()}
    )

    async def put() -> InventoryOut:
        reserved = await set_on_hand(session, org_id, sku, body.quantity)
        if reserved is not None:
            raise Problem(
                409,
                "below_reserved",
                f"{reserved} units of {sku} are promised to open replacements",
                reserved=reserved,
            )
        await _wake_backorders(session, client, org_id, sku)
        return await _stock(session, org_id, sku)

    return await answer_once(session, key, InventoryOut, put)


@router.get("/{sku}", response_model=InventoryOut)
async def get_stock(sku: str, principal: PrincipalDep, session: SessionDep) -> InventoryOut:
    principal.require(OrgKind.RETAILER)
    await catalog(session, principal.owner_id, {sku})
    return await _stock(session, principal.owner_id, sku)


async def _stock(session: AsyncSession, org_id: str, sku: str) -> InventoryOut:
    quantity, reserved = await on_hand(session, org_id, sku)
    return InventoryOut(
        sku=sku, quantity=quantity, reserved=reserved, available=quantity - reserved
    )


async def _wake_backorders(session: AsyncSession, client: Client, org_id: str, sku: str) -> None:
    """Reserve for the oldest backorders first, then tell each workflow its unit is held.
    Reserving here, not in the workflows, is what keeps the request order: woken workflows
    would otherwise race for the units."""
    for case_id, workflow_id in await backorders(session, org_id, sku):
        key = reservation_key(workflow_id)
        if not await reserve_for_backorder(session, key, org_id, sku, case_id):
            break
        try:
            await client.get_workflow_handle(workflow_id).signal(
                STOCK_RESERVED_SIGNAL, StockReserved(reservation_key=key)
            )
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            # The case ended meanwhile (refunded, cancelled): the unit goes back.
            await release(session, key)
