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

# A parcel's length, width and height in centimetres.
Dimensions = tuple[Decimal, Decimal, Decimal]

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
    weight_grams: int | None = None,
    dimensions_cm: Dimensions | None = None,
    product_id: str | None = None,
) -> models.Product | None:
    """Add a product (commits), under `product_id` when given (an `Idempotency-Key`
    reserved it); None when the catalog has this SKU, or this id, already."""
    product = models.Product(id=product_id or models.new_id(), org_id=org_id, sku=sku)
    _describe(product, name, category, unit_price, warranty_months, weight_grams, dimensions_cm)
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


async def update_product(
    session: AsyncSession,
    product: models.Product,
    *,
    name: str,
    category: str,
    unit_price: Decimal,
    warranty_months: int,
    weight_grams: int | None,
    dimensions_cm: Dimensions | None,
) -> None:
    """Replace what the catalog says of the product (commits). Open cases keep what they
    read at creation; new cases and new shipments read this."""
    _describe(product, name, category, unit_price, warranty_months, weight_grams, dimensions_cm)
    await session.commit()


def dimensions_of(product: models.Product) -> Dimensions | None:
    if product.length_cm is None or product.width_cm is None or product.height_cm is None:
        return None
    return (product.length_cm, product.width_cm, product.height_cm)


def _describe(
    product: models.Product,
    name: str,
    category: str,
    unit_price: Decimal,
    warranty_months: int,
    weight_grams: int | None,
    dimensions_cm: Dimensions | None,
) -> None:
    product.name = name
    product.category = category
    product.unit_price = unit_price
    product.warranty_months = warranty_months
    product.weight_grams = weight_grams
    product.length_cm, product.width_cm, product.height_cm = dimensions_cm or (None, None, None)


# ------------------------------------------------------------------ service plans


async def add_plan(
    session: AsyncSession,
    org_id: str,
    code: str,
    name: str,
    terms: dict[str, Any],
    plan_id: str | None = None,
) -> models.PlanCatalogEntry | None:
    """Add a plan (commits), under `plan_id` when given (an `Idempotency-Key` reserved it);
    None when the catalog has this code, or this id, already."""
    entry = models.PlanCatalogEntry(
        id=plan_id or models.new_id(), org_id=org_id, code=code, name=name, terms=terms
    )
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
