"""The retailer's service-plan catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api import idempotency
from api.auth import OrgKind
from api.commands import answer_once, setup_command_key
from api.deps import AsyncSession, PrincipalDep, SessionDep
from api.errors import Problem, invalid_amount, not_found
from api.idempotency import IdempotencyKey
from api.schemas.common import AmountError, MoneyIO
from api.schemas.plans import PlanCreate, PlanPublic, PlanTermsIn
from db import models
from db.catalog import add_plan, plan_entries, plan_entry, set_plan_terms
from db.policies import policy_document

router = APIRouter(prefix="/v1/plans", tags=["service plans"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_plan(
    body: PlanCreate,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> PlanPublic:
    """Add a plan to the catalog; its code is unique there (409 `duplicate_plan_code`). The
    same `Idempotency-Key` and body answer the plan the first request added."""
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    await _check_amounts(session, org_id, body)
    plan_id = models.new_id()
    if idempotency_key is not None:
        plan_id = await idempotency.claim(
            session,
            org_id,
            idempotency_key,
            idempotency.request_hash(body.model_dump(mode="json")),
            "plan",
            plan_id,
        )
        if (first := await _added(session, org_id, plan_id)) is not None:
            return await _public(session, first)
    terms: dict[str, Any] = body.model_dump(mode="json", exclude={"code"})
    entry = await add_plan(session, org_id, body.code, body.name, terms, plan_id)
    if entry is None and idempotency_key is not None:
        # A concurrent request with the same key may have added it under this id.
        entry = await _added(session, org_id, plan_id)
    if entry is None:
        raise Problem(409, "duplicate_plan_code", f"plan {body.code!r} is already in the catalog")
    return await _public(session, entry)


@router.put("/{code}", response_model=PlanPublic)
async def replace_plan(
    code: str,
    body: PlanTermsIn,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> PlanPublic:
    """New terms for new sales and for renewals; plans already sold keep theirs until then.
    A retry with the same `Idempotency-Key` gets the first answer and changes nothing."""
    principal.require(OrgKind.RETAILER)
    entry = await _entry(session, principal.owner_id, code)
    await _check_amounts(session, principal.owner_id, body)
    terms = body.model_dump(mode="json")
    key = setup_command_key(idempotency_key, principal, "replace_plan", {"code": code, **terms})

    async def replace() -> PlanPublic:
        await set_plan_terms(session, entry, body.name, terms)
        return await _public(session, entry)

    return await answer_once(session, key, PlanPublic, replace)


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


async def _added(
    session: AsyncSession, org_id: str, plan_id: str
) -> models.PlanCatalogEntry | None:
    entry = await session.get(models.PlanCatalogEntry, plan_id, populate_existing=True)
    return entry if entry is not None and entry.org_id == org_id else None


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
