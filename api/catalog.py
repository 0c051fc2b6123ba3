"""The retailer's product catalog as a case reads it at creation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Problem
from db import models


@dataclass(frozen=True)
class Product:
    """A catalog entry as read at creation. Plain data: the idempotency claim may roll the
    session back, which would expire ORM rows loaded before it."""

    name: str
    category: str
    unit_price: Decimal
    warranty_months: int


async def catalog(session: AsyncSession, org_id: str, skus: set[str]) -> dict[str, Product]:
    products = {
        p.sku: Product(p.name, p.category, Decimal(p.unit_price), p.warranty_months)
        for p in (
            await session.scalars(
                select(models.Product).where(
                    models.Product.org_id == org_id, models.Product.sku.in_(skus)
                )
            )
        ).all()
    }
    unknown = sorted(skus - products.keys())
    if unknown:
        raise Problem(422, "unknown_sku", f"not in the catalog: {', '.join(unknown)}", skus=unknown)
    return products
