"""A retailer's catalogs: the products it sells and the service plans it offers.

(`db.queries.plan_terms` reads a plan's terms for the workflows that sell and renew it.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow

# ------------------------------------------------------------------ products


async def add_product(
    session: AsyncSession,
    org_id: str,
    *,
    sku: str,
    name: str,
    category: str,
    unit_price: Decimal,
    warranty_months: int,
) -> models.Product | None:
    """Add a product (commits); None when the catalog has this SKU already."""
    product = models.Product(
        org_id=org_id,
        sku=sku,
        name=name,
        category=category,
        unit_price=unit_price,
        warranty_months=warranty_months,
    )
    session.add(product)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return product


async def product(session: AsyncSession, org_id: str, sku: str) -> models.Product | None:
    return await session.scalar(
        select(models.Product).where(models.Product.org_id == org_id, models.Product.sku == sku)
    )


# ------------------------------------------------------------------ service plans


async def add_plan(
    session: AsyncSession, org_id: str, code: str, name: str, terms: dict[str, Any]
) -> models.PlanCatalogEntry | None:
    """Add a plan (commits); None when the catalog has this code already."""
    entry = models.PlanCatalogEntry(org_id=org_id, code=code, name=name, terms=terms)
    session.add(entry)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return entry


async def plan_entry(
    session: AsyncSession, org_id: str, code: str
) -> models.PlanCatalogEntry | None:
    return await session.scalar(
        select(models.PlanCatalogEntry).where(
            models.PlanCatalogEntry.org_id == org_id, models.PlanCatalogEntry.code == code
        )
    )


async def plan_entries(session: AsyncSession, org_id: str) -> list[models.PlanCatalogEntry]:
    """The organisation's plans by code."""
    rows = await session.scalars(
        select(models.PlanCatalogEntry)
        .where(models.PlanCatalogEntry.org_id == org_id)
        .order_by(models.PlanCatalogEntry.code)
    )
    return list(rows.all())


async def set_plan_terms(
    session: AsyncSession, entry: models.PlanCatalogEntry, name: str, terms: dict[str, Any]
) -> None:
    """New terms for the plan (commits): new sales and renewals read them."""
    entry.name = name
    entry.terms = terms
    entry.updated_at = utcnow()
    await session.commit()
