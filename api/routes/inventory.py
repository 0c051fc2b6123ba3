"""Replacement stock per SKU. Adding stock wakes backordered replacements in request order."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import OrgKind
from api.catalog import catalog
from api.deps import PrincipalDep, SessionDep, TemporalDep
from api.errors import Problem
from api.schemas.replacement import InventoryIn, InventoryOut
from db import inventory, models
from db.inventory import ReservationStatus
from db.types import utcnow
from domain.contracts.facts import ReplacementFacts
from domain.replacement import STOCK_RESERVED_SIGNAL, StockReserved, reservation_key

router = APIRouter(prefix="/v1/inventory", tags=["replacements"])


@router.put("/{sku}", response_model=InventoryOut)
async def put_stock(
    sku: str, body: InventoryIn, principal: PrincipalDep, session: SessionDep, client: TemporalDep
) -> InventoryOut:
    """Set the units on hand. Backordered replacements of this SKU get the new units first
    come, first served; fewer units than are promised to open cases is a 409."""
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    await catalog(session, org_id, {sku})
    row = await inventory.lock_item(session, org_id, sku)
    if body.quantity < row.reserved:
        reserved = row.reserved
        await session.rollback()
        raise Problem(
            409,
            "below_reserved",
            f"{reserved} units of {sku} are promised to open replacements",
            reserved=reserved,
        )
    row.quantity = body.quantity
    row.updated_at = utcnow()
    await session.commit()
    await _wake_backorders(session, client, org_id, sku)
    return await _stock(session, org_id, sku)


@router.get("/{sku}", response_model=InventoryOut)
async def get_stock(sku: str, principal: PrincipalDep, session: SessionDep) -> InventoryOut:
    principal.require(OrgKind.RETAILER)
    await catalog(session, principal.owner_id, {sku})
    return await _stock(session, principal.owner_id, sku)


async def _stock(session: AsyncSession, org_id: str, sku: str) -> InventoryOut:
    row = await session.get(models.InventoryItem, (org_id, sku), populate_existing=True)
    quantity, reserved = (row.quantity, row.reserved) if row else (0, 0)
    return InventoryOut(
        sku=sku, quantity=quantity, reserved=reserved, available=quantity - reserved
    )


async def _wake_backorders(session: AsyncSession, client: Client, org_id: str, sku: str) -> None:
    """Reserve for the oldest backorders first, then tell each workflow its unit is held.
    Reserving here, not in the workflows, is what keeps the request order: woken workflows
    would otherwise race for the units."""
    waiting = (
        await session.execute(
            select(models.Case.id, models.Case.workflow_id, models.Case.data)
            .where(
                models.Case.org_id == org_id,
                models.Case.case_type == "replacement",
                models.Case.status == "backordered",
            )
            .order_by(models.Case.created_at, models.Case.id)
        )
    ).all()
    for case_id, workflow_id, data in waiting:
        if ReplacementFacts.from_data(data).replacement_sku != sku:
            continue
        key = reservation_key(workflow_id)
        try:
            reserved = await inventory.reserve(session, key, org_id, sku, case_id)
            await session.commit()
        except IntegrityError:
            # The workflow reserved for itself meanwhile: it holds its unit already.
            await session.rollback()
            reserved = True
        if not reserved:
            break
        try:
            await client.get_workflow_handle(workflow_id).signal(
                STOCK_RESERVED_SIGNAL, StockReserved(reservation_key=key)
            )
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            # The case ended meanwhile (refunded, cancelled): the unit goes back.
            await inventory.settle(session, key, ReservationStatus.RELEASED)
            await session.commit()
