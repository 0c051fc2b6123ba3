"""Orders the retailer's shop sends: kept by `order_ref` per retailer, replaced whole by the
same reference again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow


@dataclass(frozen=True)
class LineIn:
    sku: str
    serial: str | None
    quantity: int


@dataclass(frozen=True)
class OrderCustomer:
    name: str
    email: str
    phone: str
    address: dict[str, Any] | None
    locale: str = ""
    time_zone: str = ""


@dataclass(frozen=True)
class StoredOrder:
    order: models.Order
    lines: list[models.OrderLine]

    @property
    def customer(self) -> dict[str, Any]:
        """As the API takes and shows a customer (no locale or time zone: None)."""
        return {
            "name": self.order.customer_name,
            "email": self.order.customer_email,
            "phone": self.order.customer_phone,
            "address": self.order.customer_address,
            "locale": self.order.customer_locale or None,
            "time_zone": self.order.customer_time_zone or None,
        }


def normal_email(email: str) -> str:
    """An email as orders store it and the portal compares it."""
    return email.strip().lower()


async def put_order(
    session: AsyncSession,
    org_id: str,
    *,
    order_ref: str,
    placed_at: datetime,
    customer: OrderCustomer,
    lines: Sequence[LineIn],
) -> tuple[StoredOrder, bool] | None:
    """Store the order, replacing the one with the same reference and all its lines in one
    transaction (commits), with whatever the session holds (an idempotency record). The
    (org, order_ref) unique constraint decides between two concurrent first requests: one
    inserts, the other replaces. True when it was new; None, storing nothing, when another
    of the session's rows broke a constraint (the same key stored by a concurrent request)."""
    table = models.Order
    now = utcnow()
    fields = {
        "placed_at": placed_at,
        "customer_name": customer.name,
        "customer_email": normal_email(customer.email),
        "customer_phone": customer.phone,
        "customer_address": customer.address,
        "customer_locale": customer.locale,
        "customer_time_zone": customer.time_zone,
        "updated_at": now,
    }
    proposed = models.new_id()
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    order_id = await session.scalar(
        upsert.values(id=proposed, org_id=org_id, order_ref=order_ref, created_at=now, **fields)
        .on_conflict_do_update(index_elements=[table.org_id, table.order_ref], set_=fields)
        .returning(table.id)
    )
    assert order_id is not None
    await session.execute(delete(models.OrderLine).where(models.OrderLine.order_id == order_id))
    await session.execute(
        insert(models.OrderLine),
        [
            {
                "order_id": order_id,
                "org_id": org_id,
                "position": position,
                "sku": line.sku,
                "serial": line.serial,
                "quantity": line.quantity,
            }
            for position, line in enumerate(lines, start=1)
        ],
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    stored = await order_by_id(session, order_id)
    assert stored is not None
    return stored, order_id == proposed


async def order_by_ref(session: AsyncSession, org_id: str, order_ref: str) -> StoredOrder | None:
    order = await order_row(session, org_id, order_ref)
    return None if order is None else StoredOrder(order, await _lines(session, order.id))


async def order_row(session: AsyncSession, org_id: str, order_ref: str) -> models.Order | None:
    """The order without its lines: one statement, found or not."""
    return await session.scalar(
        select(models.Order)
        .where(models.Order.org_id == org_id, models.Order.order_ref == order_ref)
        .execution_options(populate_existing=True)
    )


async def order_by_id(session: AsyncSession, order_id: str) -> StoredOrder | None:
    order = await session.scalar(
        select(models.Order)
        .where(models.Order.id == order_id)
        .execution_options(populate_existing=True)
    )
    return None if order is None else StoredOrder(order, await _lines(session, order.id))


async def _lines(session: AsyncSession, order_id: str) -> list[models.OrderLine]:
    found = await session.scalars(
        select(models.OrderLine)
        .where(models.OrderLine.order_id == order_id)
        .order_by(models.OrderLine.position)
        .execution_options(populate_existing=True)
    )
    return list(found.all())
