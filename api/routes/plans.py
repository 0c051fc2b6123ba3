"""The retailer's service-plan catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.auth import OrgKind
from api.deps import AsyncSession, PrincipalDep, SessionDep
from api.errors import Problem, invalid_amount, not_found
from api.schemas.common import AmountError, MoneyIO
from api.schemas.plans import PlanCreate, PlanPublic, PlanTermsIn
from db import models
from db.catalog import add_plan, plan_entries, plan_entry, set_plan_terms
from db.policies import policy_document

router = APIRouter(prefix="/v1/plans", tags=["service plans"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_plan(body: PlanCreate, principal: PrincipalDep, session: SessionDep) -> PlanPublic:
    principal.require(OrgKind.RETAILER)
    await _check_amounts(session, principal.owner_id, body)
    terms: dict[str, Any] = body.model_dump(mode="json", exclude={"code"})
    entry = await add_plan(session, principal.owner_id, body.code, body.name, terms)
    if entry is None:
        raise Problem(409, "duplicate_plan_code", f"plan {body.code!r} is already in the catalog")
    return await _public(session, entry)


@router.put("/{code}", response_model=PlanPublic)
async def replace_plan(
    code: str, body: PlanTermsIn, principal: PrincipalDep, session: SessionDep
) -> PlanPublic:
    """New terms for new sales and for renewals; plans already sold keep theirs until then."""
    principal.require(OrgKind.RETAILER)
    entry = await _entry(session, principal.owner_id, code)
    await _check_amounts(session, principal.owner_id, body)
    await set_plan_terms(session, entry, body.name, body.model_dump(mode="json"))
    return await _public(session, entry)


@router.get("", response_model=list[PlanPublic])
async def list_plans(principal: PrincipalDep, session: SessionDep) -> list[PlanPublic]:
    principal.require(OrgKind.RETAILER)
    return [await _public(session, row) for row in await plan_entries(session, principal.owner_id)]


@router.get("/{code}", response_model=PlanPublic)
async def get_plan(code: str, principal: PrincipalDep, session: SessionDep) -> PlanPublic:
    principal.require(OrgKind.RETAILER)
    return await _public(session, await _entry(session, principal.owner_id, code))


async def _entry(session: AsyncSession, org_id: str, code: str) -> models.PlanCatalogEntry:
    entry = await plan_entry(session, org_id, code)
    if entry is None:
        raise not_found("plan")
    return entry


async def _currency(session: AsyncSession, org_id: str) -> str:
    """The catalog's currency: the retailer policy's."""
    return str((await policy_document(session, org_id)).get("currency", "USD"))


async def _check_amounts(session: AsyncSession, org_id: str, body: PlanTermsIn) -> None:
    try:
        body.check_amounts(await _currency(session, org_id))
    except AmountError as exc:
        raise invalid_amount(exc.field, exc) from exc


async def _public(session: AsyncSession, entry: models.PlanCatalogEntry) -> PlanPublic:
    currency = await _currency(session, entry.org_id)
    terms = PlanTermsIn.model_validate(entry.terms).to_domain(entry.code)
    return PlanPublic(
        id=entry.id,
        code=entry.code,
        name=terms.name,
        term_months=terms.term_months,
        billing_period=terms.billing_period,
        price=MoneyIO.of(terms.price, currency),
        claim_limit=terms.claim_limit,
        deductibles={k: MoneyIO.of(v, currency) for k, v in terms.deductibles.items()},
        waiting_period=terms.waiting_period,
        incidents=sorted(terms.incidents),
        cancel_full_refund_within=terms.cancel_full_refund_within,
        renewal_notice=terms.renewal_notice,
        auto_renew=terms.auto_renew,
    )
