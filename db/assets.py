"""Installed equipment: a retailer's assets, found by serial, and made on first sight."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow


async def assets_by_serial(
    session: AsyncSession, org_id: str, serial: str, sku: str | None = None
) -> list[models.Asset]:
    """The organisation's assets with this serial (and SKU), by SKU."""
    query = select(models.Asset).where(models.Asset.org_id == org_id, models.Asset.serial == serial)
    if sku is not None:
        query = query.where(models.Asset.sku == sku)
    return list((await session.scalars(query.order_by(models.Asset.sku))).all())


async def asset(session: AsyncSession, org_id: str, asset_id: str) -> models.Asset | None:
    """The asset if it is the organisation's."""
    found = await session.get(models.Asset, asset_id)
    return found if found is not None and found.org_id == org_id else None


async def asset_id(
    session: AsyncSession, org_id: str, sku: str, serial: str, site: dict[str, Any]
) -> str:
    """The organisation's asset with this SKU and serial, created at `site` the first time
    it is seen (commits)."""
    query = select(models.Asset.id).where(
        models.Asset.org_id == org_id, models.Asset.sku == sku, models.Asset.serial == serial
    )
    found = await session.scalar(query)
    if found is not None:
        return found
    new = models.Asset(org_id=org_id, sku=sku, serial=serial, site=site, created_at=utcnow())
    session.add(new)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # created concurrently: use that one
        found = await session.scalar(query)
        assert found is not None
        return found
    return new.id
