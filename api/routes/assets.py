"""Installed equipment and where it stands now (relocations move it)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import OrgKind
from api.deps import PrincipalDep, SessionDep
from api.errors import not_found
from api.schemas.common import Serial, Sku
from api.schemas.relocation import AssetOut
from db import models
from db.assets import asset, assets_by_serial

router = APIRouter(prefix="/v1/assets", tags=["relocations"])


@router.get("", response_model=list[AssetOut])
async def find_assets(
    principal: PrincipalDep, session: SessionDep, serial: Serial, sku: Sku | None = None
) -> list[AssetOut]:
    """The retailer's assets with this serial (and SKU)."""
    principal.require(OrgKind.RETAILER)
    return [_out(a) for a in await assets_by_serial(session, principal.owner_id, serial, sku)]


@router.get("/{asset_id}", response_model=AssetOut)
async def get_asset(asset_id: str, principal: PrincipalDep, session: SessionDep) -> AssetOut:
    principal.require(OrgKind.RETAILER)
    found = await asset(session, principal.owner_id, asset_id)
    if found is None:
        raise not_found("asset")
    return _out(found)


def _out(asset: models.Asset) -> AssetOut:
    return AssetOut(
        id=asset.id,
        sku=asset.sku,
        serial=asset.serial,
        site=dict(asset.site),
        updated_at=asset.updated_at,
    )
