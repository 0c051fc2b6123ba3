"""Service plans sold to customers: enrolment, claims, payment method, cancel, transfer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api import idempotency
from api.auth import OrgKind
from api.case_access import CaseRef, CaseResource
from api.case_views import service_plan_public
from api.catalog import catalog
from api.commands import CaseCommands, CommandsDep, children_recorded
from api.deps import PrincipalDep, ReadsDep, SessionDep, SettingsDep
from api.errors import Problem
from api.pagination import LimitQuery
from api.schemas.common import MoneyIO, Page, QueryText
from api.schemas.service_plan import (
    CancelOut,
    ClaimBody,
    ClaimOut,
    EnrollBody,
    PaymentMethodBody,
    PlanCancelBody,
    ServicePlanPublic,
    TransferBody,
)
from api.schemas.setup import PolicyDocument
from db.organisations import organisation
from db.policies import policy_document
from db.queries import plan_holding, plan_terms
from domain.ids import new_case_id, new_tracking_token, service_plan_workflow_id
from domain.service_plan import (
    CLAIM_UPDATE,
    PAYMENT_METHOD_UPDATE,
    PLAN_ACCEPT_UPDATE,
    PLAN_CANCEL_UPDATE,
    SERVICE_PLAN_WORKFLOW,
    TRANSFER_UPDATE,
    CancelAnswer,
    ClaimAnswer,
    ClaimRequest,
    PaymentMethodChange,
    PlanCancel,
    PlanTransfer,
    PlanView,
    ServicePlanStart,
)

router = APIRouter(prefix="/v1/service-plans", tags=["service plans"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ServicePlanPublic)
async def enroll(
    body: EnrollBody, principal: PrincipalDep, commands: CommandsDep
) -> ServicePlanPublic:
    """Sell a plan for one unit: the first charge decides (`rejected` if declined)."""
    principal.require(OrgKind.RETAILER)
    session, settings = commands.session, commands.settings
    org_id = principal.owner_id
    if body.unit.purchased_at > datetime.now(UTC):
        raise Problem(422, "invalid_purchase_date", "the purchase date is in the future")
    product = (await catalog(session, org_id, {body.unit.sku}))[body.unit.sku]
    terms = await plan_terms(session, org_id, body.plan_code)
    if terms is None:
        raise Problem(422, "unknown_plan", f"plan {body.plan_code!r} is not in the catalog")
    plan_id, existing = await idempotency.claim_case(
        session,
        org_id,
        commands.key,
        body,
        "service_plan",
        new_case_id("PLN", datetime.now(UTC).year),
    )
    if existing is not None:
        return await _plans.view(commands, principal, existing.id)
    held = await plan_holding(session, org_id, body.unit.serial)
    if held is not None:
        raise Problem(
            409, "duplicate_open_case", f"unit {body.unit.serial} already has a plan", case_id=held
        )
    org = await organisation(session, org_id)
    assert org is not None
    policy = PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()
    start = ServicePlanStart(
        plan_id=plan_id,
        org_id=org_id,
        org_name=org.name,
        tracking_token=new_tracking_token(),
        sku=body.unit.sku,
        serial=body.unit.serial,
        product_name=product.name,
        category=product.category,
        unit_price=product.unit_price,
        policy=policy,
        public_base_url=settings.public_base_url,
        terms=terms,
        payment_method=body.payment_method,
        customer=body.customer.to_domain(),
    )
    return await _plans.start(
        commands,
        principal,
        case_id=plan_id,
        workflow=SERVICE_PLAN_WORKFLOW,
        argument=start,
        workflow_id=service_plan_workflow_id(plan_id),
        update=PLAN_ACCEPT_UPDATE,
        pending_detail=f"plan {plan_id} was started but has not charged yet; retry with the "
        "same Idempotency-Key to get it",
    )


@router.get("", response_model=Page[ServicePlanPublic])
async def list_plans(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[QueryText | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[ServicePlanPublic]:
    bundles, next_cursor = await PLANS.page(session, principal, status_filter, cursor, limit)
    items = [_plans.show(bundle, principal, settings) for bundle in bundles]
    return Page[ServicePlanPublic](items=items, next_cursor=next_cursor)


async def _plan(plan_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The plan for its retailer; nobody else works a plan."""
    return PLANS.ref(reads, principal, plan_id, kinds=(OrgKind.RETAILER,))


Plan = Annotated[CaseRef, Depends(_plan)]


@router.get("/{plan_id}", response_model=ServicePlanPublic)
async def get_plan(plan: Plan, settings: SettingsDep) -> ServicePlanPublic:
    return await _plans.detail(plan, settings)


@router.post("/{plan_id}/claims", status_code=status.HTTP_201_CREATED, response_model=ClaimOut)
async def claim(body: ClaimBody, plan: Plan, commands: CommandsDep) -> ClaimOut:
    """Decided at once: refused with a reason code, or approved with the repair or
    replacement it started (the deductible charged first)."""
    request = ClaimRequest(
        type=body.type,
        incident=body.incident,
        description=body.description,
        child_tracking_token=new_tracking_token(),
        actor=plan.principal.actor(),
    )

    async def answer(decided: ClaimAnswer) -> ClaimOut:
        await children_recorded(commands, (decided.repair_id, decided.replacement_id))
        return ClaimOut(
            decision=decided.decision,
            reason=decided.reason,
            repair_id=decided.repair_id,
            replacement_id=decided.replacement_id,
        )

    return await _plans.ask(
        commands, plan, CLAIM_UPDATE, request, ClaimOut, answer, result_type=ClaimAnswer, body=body
    )


@router.post("/{plan_id}/payment-method", response_model=ServicePlanPublic)
async def change_payment_method(
    body: PaymentMethodBody, plan: Plan, commands: CommandsDep
) -> ServicePlanPublic:
    """A past-due or suspended plan retries the overdue charge at once with it."""
    change = PaymentMethodChange(body.payment_method, actor=plan.principal.actor())
    return await _plans.send(commands, plan, PAYMENT_METHOD_UPDATE, change, body=body)


@router.post("/{plan_id}/cancel", response_model=CancelOut)
async def cancel(
    plan: Plan, commands: CommandsDep, body: PlanCancelBody | None = None
) -> CancelOut:
    request = PlanCancel(reason=body.reason if body else "", actor=plan.principal.actor())

    async def answer(cancelled: CancelAnswer) -> CancelOut:
        currency = (await plan.open()).case.currency
        return CancelOut(
            refund=MoneyIO.of(cancelled.refund, currency), status=cancelled.status.value
        )

    return await _plans.ask(
        commands,
        plan,
        PLAN_CANCEL_UPDATE,
        request,
        CancelOut,
        answer,
        result_type=CancelAnswer,
        body=body,
    )


@router.post("/{plan_id}/transfer", response_model=ServicePlanPublic)
async def transfer(body: TransferBody, plan: Plan, commands: CommandsDep) -> ServicePlanPublic:
    """A new owner; a new Certificate of Coverage is issued in their name."""
    request = PlanTransfer(
        customer=body.customer.to_domain(),
        tracking_token=new_tracking_token(),
        actor=plan.principal.actor(),
    )
    return await _plans.send(commands, plan, TRANSFER_UPDATE, request, body=body)


PLANS = CaseResource("service_plan", "service plan")
# A plan's commands are refused by its workflow while it runs; once it has ended there is
# nothing left to do with it.
_plans = CaseCommands(PlanView, lambda status: [], service_plan_public, ServicePlanPublic)
