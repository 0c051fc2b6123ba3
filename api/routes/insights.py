"""Insight for a retailer: per product, category or repair center, why units come back and
how well they are served; repairs by fault code. CSV too (api.csv_answers)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import OrgKind
from api.deps import PrincipalDep, SessionDep
from api.errors import Problem
from api.schemas.common import Moment, Sku
from api.schemas.insights import FaultCodeOut, FaultCodes, ProductInsightOut, ProductInsights
from db.insights import Period, fault_code_insights, product_insights
from domain.insights import GroupBy

router = APIRouter(prefix="/v1/insights", tags=["insights"])


@router.get("/products", response_model=ProductInsights)
async def products(
    principal: PrincipalDep,
    session: SessionDep,
    since: Annotated[Moment | None, Query(alias="from")] = None,
    until: Annotated[Moment | None, Query(alias="to")] = None,
    group_by: GroupBy = GroupBy.SKU,
) -> ProductInsights:
    """Figures per key (`group_by`: sku, category or center) over the cases opened, units
    sold and returns deflected from `from` (inclusive) to `to` (exclusive); all time
    without them."""
    principal.require(OrgKind.RETAILER)
    if since is not None and until is not None and until <= since:
        raise Problem(422, "validation_error", "`to` must be after `from`")
    rows = await product_insights(session, principal.owner_id, group_by, Period(since, until))
    return ProductInsights(
        items=[ProductInsightOut(**asdict(row), return_rate=row.return_rate) for row in rows]
    )


@router.get("/fault-codes", response_model=FaultCodes)
async def fault_codes(
    principal: PrincipalDep, session: SessionDep, sku: Sku | None = None
) -> FaultCodes:
    """The retailer's repairs by diagnosed fault code, the most frequent first."""
    principal.require(OrgKind.RETAILER)
    rows = await fault_code_insights(session, principal.owner_id, sku)
    return FaultCodes(items=[FaultCodeOut(**asdict(row)) for row in rows])
