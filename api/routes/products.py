"""The retailer's product catalog."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, status

from api import idempotency
from api.auth import OrgKind
from api.commands import answer_once, setup_command_key
from api.deps import AsyncSession, PrincipalDep, SessionDep, SettingsDep
from api.errors import Problem, invalid_amount, not_found
from api.idempotency import IdempotencyKey
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
    body: ProductCreate,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> ProductPublic:
    """Add a product; its SKU is unique in the catalog (409 `duplicate_sku`). The same
    `Idempotency-Key` and body answer the product the first request added."""
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    currency = await _currency(session, org_id)
    unit_price = _price(body, currency)
    product_id = models.new_id()
    if idempotency_key is not None:
        product_id = await idempotency.claim(
            session,
            org_id,
            idempotency_key,
            idempotency.request_hash(body.model_dump(mode="json")),
            "product",
            product_id,
        )
        if (first := await _added(session, org_id, product_id)) is not None:
            return _public(first, currency)
    added = await add_product(
        session,
        org_id,
        sku=body.sku,
        name=body.name,
        category=body.category,
        unit_price=unit_price,
        warranty_months=body.warranty_months,
        weight_grams=body.weight_grams,
        dimensions_cm=_stored(body.dimensions_cm),
        product_id=product_id,
    )
    if added is None and idempotency_key is not None:
        # A concurrent request with the same key may have added it under this id.
        added = await _added(session, org_id, product_id)
    if added is None:
        raise Problem(
            409, "duplicate_sku", f"sku {body.sku!r} is already in the catalog", sku=body.sku
        )
    return _public(added, currency)


async def _added(session: AsyncSession, org_id: str, product_id: str) -> models.Product | None:
    found = await session.get(models.Product, product_id, populate_existing=True)
    return found if found is not None and found.org_id == org_id else None


@router.get("/{sku}", response_model=ProductPublic)
async def get_product(sku: str, principal: PrincipalDep, session: SessionDep) -> ProductPublic:
    principal.require(OrgKind.RETAILER)
    found = await product(session, principal.owner_id, sku)
    if found is None:
        raise not_found("product")
    return _public(found, await _currency(session, principal.owner_id))


@router.put("/{sku}", response_model=ProductPublic)
async def put_product(
    sku: str,
    body: ProductUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> ProductPublic:
    """Replace the product's description; the same body twice leaves it as the first did.
    A retry with the same `Idempotency-Key` gets the first answer and changes nothing (a
    change made since stays)."""
    principal.require(OrgKind.RETAILER)
    found = await product(session, principal.owner_id, sku)
    if found is None:
        raise not_found("product")
    currency = await _currency(session, principal.owner_id)
    unit_price = _price(body, currency)
    key = setup_command_key(
        idempotency_key, principal, "put_product", {"sku": sku, **body.model_dump(mode="json")}
    )

    async def put() -> ProductPublic:
        await update_product(
            session,
            found,
            name=body.name,
            category=body.category,
            unit_price=unit_price,
            warranty_months=body.warranty_months,
            weight_grams=body.weight_grams,
            dimensions_cm=_stored(body.dimensions_cm),
        )
        return _public(found, currency)

    return await answer_once(session, key, ProductPublic, put)
