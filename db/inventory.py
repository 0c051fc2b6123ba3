"""Stock reservations, shared by the inventory activities and the API's backorder wake-up.

Every change is one guarded UPDATE plus a ledger row in the same transaction: the guard
(`reserved < quantity`) and the table's check constraints keep stock from going negative
under any concurrency, and the ledger row (keyed) makes a retry count once."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow
from domain.contracts.facts import ReplacementFacts


class ReservationStatus(StrEnum):
    RESERVED = "reserved"
    CONSUMED = "consumed"
    RELEASED = "released"


async def lock_item(session: AsyncSession, org_id: str, sku: str) -> models.InventoryItem:
    """The stock row of `sku`, locked until the caller commits; created empty (and committed)
    first when there is none. Two first writers race on that insert: the loser's unique
    violation only means the row exists now, and it locks the winner's row instead."""
    row = await session.get(models.InventoryItem, (org_id, sku), with_for_update=True)
    if row is not None:
        return row
    session.add(
        models.InventoryItem(org_id=org_id, sku=sku, quantity=0, reserved=0, updated_at=utcnow())
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
    row = await session.get(
        models.InventoryItem, (org_id, sku), with_for_update=True, populate_existing=True
    )
    assert row is not None  # inserted above, by this request or the one it raced
    return row


async def reserve(session: AsyncSession, key: str, org_id: str, sku: str, case_id: str) -> bool:
    """Reserve one unit under `key`; True if it is (or already was) reserved or shipped.
    The caller commits; an IntegrityError on commit means the same key raced and won."""
    existing = await session.get(models.InventoryReservation, key, with_for_update=True)
    if existing is not None:
        return existing.status != ReservationStatus.RELEASED
    item = models.InventoryItem
    result = await session.execute(
        update(item)
        .where(item.org_id == org_id, item.sku == sku, item.reserved < item.quantity)
        .values(reserved=item.reserved + 1, updated_at=utcnow())
    )
    if not _changed(result):
        return False
    now = utcnow()
    session.add(
        models.InventoryReservation(
            key=key,
            org_id=org_id,
            sku=sku,
            case_id=case_id,
            status=ReservationStatus.RESERVED.value,
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    return True


async def settle(session: AsyncSession, key: str, outcome: ReservationStatus) -> bool:
    """Release a reservation (the unit goes back to stock) or consume it (the unit shipped).
    A key that is not reserved any more is left as it is; True if this call changed it."""
    reservation = await session.get(models.InventoryReservation, key, with_for_update=True)
    if reservation is None or reservation.status != ReservationStatus.RESERVED:
        return False
    item = models.InventoryItem
    values = {"reserved": item.reserved - 1, "updated_at": utcnow()}
    if outcome is ReservationStatus.CONSUMED:
        values["quantity"] = item.quantity - 1
    await session.execute(
        update(item)
        .where(item.org_id == reservation.org_id, item.sku == reservation.sku)
        .values(values)
    )
    reservation.status = outcome.value
    reservation.updated_at = utcnow()
    return True


# ------------------------------------------------------------------ the retailer's stock (API)


async def set_on_hand(session: AsyncSession, org_id: str, sku: str, quantity: int) -> int | None:
    """Set the units of `sku` on hand (commits), under its row's lock. Fewer than are
    reserved for open cases changes nothing: the answer is then the units reserved."""
    row = await lock_item(session, org_id, sku)
    if quantity < row.reserved:
        reserved = row.reserved
        await session.rollback()
        return reserved
    row.quantity = quantity
    row.updated_at = utcnow()
    await session.commit()
    return None


async def on_hand(session: AsyncSession, org_id: str, sku: str) -> tuple[int, int]:
    """Units of `sku` on hand and reserved, as committed now (none if it has no row)."""
    row = await session.get(models.InventoryItem, (org_id, sku), populate_existing=True)
    return (row.quantity, row.reserved) if row else (0, 0)


async def backorders(session: AsyncSession, org_id: str, sku: str) -> list[tuple[str, str]]:
    """The organisation's replacements waiting for a unit of `sku`, oldest first, as
    (case id, workflow id)."""
    case = models.Case
    waiting = await session.execute(
        select(case.id, case.workflow_id, case.data)
        .where(
            case.org_id == org_id,
            case.case_type == "replacement",
            case.status == "backordered",
        )
        .order_by(case.created_at, case.id)
    )
    return [
        (case_id, workflow_id)
        for case_id, workflow_id, data in waiting.all()
        if ReplacementFacts.from_data(data).replacement_sku == sku
    ]


async def reserve_for_backorder(
    session: AsyncSession, key: str, org_id: str, sku: str, case_id: str
) -> bool:
    """`reserve`, committed. True also when the workflow reserved for itself meanwhile (the
    same key won the race): it holds its unit already."""
    try:
        reserved = await reserve(session, key, org_id, sku, case_id)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return True
    return reserved


async def release(session: AsyncSession, key: str) -> None:
    """The unit reserved under `key` goes back to stock (committed)."""
    await settle(session, key, ReservationStatus.RELEASED)
    await session.commit()


def _changed(result: object) -> bool:
    return isinstance(result, CursorResult) and result.rowcount == 1
