"""Installed equipment and where it stands now (relocations move it)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.auth import OrgKind
from api.deps import PrincipalDep, SessionDep
from api.errors import not_found
from api.schemas.common import Serial, Sku
from api.schemas.relocation import AssetOut
from db import models

router = APIRouter(prefix="/v1/assets", tags=["relocations"])


@router.get("", response_model=list[AssetOut])
async def find_assets(
    principal: PrincipalDep, session: SessionDep, serial: Serial, sku: Sku | None = None
) -> list[AssetOut]:
    """The retailer's assets with this serial (and SKU)."""
    principal.require(OrgKind.RETAILER)
    query = select(models.Asset).where(
        models.Asset.org_id == principal.owner_id, models.Asset.serial == serial
    )
    if sku is not None:
        query = query.where(models.Asset.sku == sku)
    return [_out(a) for a in (await session.scalars(query.order_by(models.Asset.sku))).all()]


@router.get("/{asset_id}", response_model=AssetOut)
async def get_asset(asset_id: str, principal: PrincipalDep, session: SessionDep) -> AssetOut:
    principal.require(OrgKind.RETAILER)
    asset = await session.get(models.Asset, asset_id)
    if asset is None or asset.org_id != principal.owner_id:
        raise not_found("asset")
    return _out(asset)


def _out(asset: models.Asset) -> AssetOut:
    return AssetOut(
        id=asset.id,
        sku=asset.sku,
        serial=asset.serial,
        site=dict(asset.site),
        updated_at=asset.updated_at,
    )
