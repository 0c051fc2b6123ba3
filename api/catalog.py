"""What a new case reads and checks at creation: the retailer's name, policy and catalog,
and the unit's open cases."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Problem
from api.schemas.setup import PolicyDocument
from db import models
from db.policies import name_and_policy
from domain.common import CLOSED_STATUSES, Policy


@dataclass(frozen=True)
class Product:
    """A catalog entry as read at creation. Plain data: the idempotency claim may roll the
    session back, which would expire ORM rows loaded before it."""

    name: str
    category: str
    unit_price: Decimal
    warranty_months: int


@dataclass(frozen=True)
class RetailerTerms:
    """The organisation's name and policy, as a new case copies them."""

    name: str
    policy: Policy


async def retailer_terms(session: AsyncSession, org_id: str) -> RetailerTerms:
    """The terms of the principal's own organisation (which exists: its key or user was
    just authenticated), read in one statement."""
    found = await name_and_policy(session, org_id)
    if found is None:
        raise LookupError(f"organisation {org_id} is gone")
    name, document = found
    return RetailerTerms(name, PolicyDocument.model_validate(document).to_domain())


_P = models.Product
# Columns, not entities: nothing read here is changed through the session. Built once, the
# organisation and the SKUs bound at execution.
_CATALOG = select(_P.sku, _P.name, _P.category, _P.unit_price, _P.warranty_months).where(
    _P.org_id == bindparam("org_id"), _P.sku.in_(bindparam("skus", expanding=True))
)


async def catalog(session: AsyncSession, org_id: str, skus: set[str]) -> dict[str, Product]:
    rows = await session.execute(_CATALOG, {"org_id": org_id, "skus": sorted(skus)})
    products = {
        sku: Product(name, category, Decimal(unit_price), warranty_months)
        for sku, name, category, unit_price, warranty_months in rows
    }
    unknown = sorted(skus - products.keys())
    if unknown:
        raise Problem(422, "unknown_sku", f"not in the catalog: {', '.join(unknown)}", skus=unknown)
    return products


async def refuse_open_case(session: AsyncSession, org_id: str, serial: str, own_id: str) -> None:
    """One open case per unit: a second repair of a unit already in a case is a 409."""
    open_case = await session.scalar(
        select(models.Case.id)
        .join(models.CaseItem, models.CaseItem.case_id == models.Case.id)
        .where(
            models.Case.org_id == org_id,
            models.CaseItem.serial == serial,
            models.Case.status.not_in(CLOSED_STATUSES),
            # A protection plan covers the unit; it is not a case about it.
            models.Case.case_type != "service_plan",
            models.Case.id != own_id,
        )
        .limit(1)
    )
    if open_case is not None:
        raise Problem(
            409,
            "duplicate_open_case",
            f"unit {serial} already has an open case",
            case_id=open_case,
        )
