"""The retailer's product catalog."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, status

from api.auth import OrgKind
from api.deps import AsyncSession, PrincipalDep, SessionDep, SettingsDep
from api.errors import Problem, invalid_amount, not_found
from api.schemas.common import MoneyIO
from api.schemas.setup import Dimensions, ProductCreate, ProductPublic, ProductUpdate
from db import models
from db.catalog import Dimensions as StoredDimensions
from db.catalog import add_product, dimensions_of, product, update_product
from db.policies import policy_document

router = APIRouter(prefix="/v1/products", tags=["setup"])


async def _currency(session: AsyncSession, org_id: str) -> str:
    """The catalog's currency: the retailer policy's."""
    return str((await policy_document(session, org_id)).get("currency", "USD"))


def _price(body: ProductCreate | ProductUpdate, currency: str) -> Decimal:
    try:
        return body.price(currency)
    except ValueError as exc:
        raise invalid_amount("unit_price", exc) from exc


def _public(product: models.Product, currency: str) -> ProductPublic:
    sides = dimensions_of(product)
    return ProductPublic(
        id=product.id,
        sku=product.sku,
        name=product.name,
        category=product.category,
        unit_price=MoneyIO.of(product.unit_price, currency),
        warranty_months=product.warranty_months,
        weight_grams=product.weight_grams,
        dimensions_cm=(
            None if sides is None else Dimensions(length=sides[0], width=sides[1], height=sides[2])
        ),
    )


def _stored(dimensions: Dimensions | None) -> StoredDimensions | None:
    return None if dimensions is None else (dimensions.length, dimensions.width, dimensions.height)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductPublic)
async def create_product(
    body: ProductCreate, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> ProductPublic:
    principal.require(OrgKind.RETAILER)
    currency = await _currency(session, principal.owner_id)
    added = await add_product(
        session,
        principal.owner_id,
        sku=body.sku,
        name=body.name,
        category=body.category,
        unit_price=_price(body, currency),
        warranty_months=body.warranty_months,
        weight_grams=body.weight_grams,
        dimensions_cm=_stored(body.dimensions_cm),
    )
    if added is None:
        raise Problem(
            409, "duplicate_sku", f"sku {body.sku!r} is already in the catalog", sku=body.sku
        )
    return _public(added, currency)


@router.get("/{sku}", response_model=ProductPublic)
async def get_product(sku: str, principal: PrincipalDep, session: SessionDep) -> ProductPublic:
    principal.require(OrgKind.RETAILER)
    found = await product(session, principal.owner_id, sku)
    if found is None:
        raise not_found("product")
    currency = (await policy_document(session, principal.owner_id)).get("currency", "USD")
    return _public(found, currency)


@router.put("/{sku}", response_model=ProductPublic)
async def put_product(
    sku: str, body: ProductUpdate, principal: PrincipalDep, session: SessionDep
) -> ProductPublic:
    """Replace the product's description; the same body twice leaves it as the first did."""
    principal.require(OrgKind.RETAILER)
    found = await product(session, principal.owner_id, sku)
    if found is None:
        raise not_found("product")
    currency = await _currency(session, principal.owner_id)
    await update_product(
        session,
        found,
        name=body.name,
        category=body.category,
        unit_price=_price(body, currency),
        warranty_months=body.warranty_months,
        weight_grams=body.weight_grams,
        dimensions_cm=_stored(body.dimensions_cm),
    )
    return _public(found, currency)
