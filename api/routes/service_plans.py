"""Service plans sold to customers: enrolment, claims, payment method, cancel, transfer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api import idempotency
from api.auth import OrgKind, Principal
from api.case_views import Viewer, service_plan_public
from api.catalog import catalog
from api.commands import answer_once, command_case, command_key, start_with_update
from api.deps import PrincipalDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, not_found
from api.idempotency import CommandKey, IdempotencyKey
from api.pagination import LimitQuery, page, split
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
from db import models
from db.queries import load_case_bundle, plan_terms, policy_document
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
from settings import Settings

router = APIRouter(prefix="/v1/service-plans", tags=["service plans"])


def _no_actions(status: str) -> list[str]:
    return []


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ServicePlanPublic)
async def enroll(
    body: EnrollBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> ServicePlanPublic:
    """Sell a plan for one unit: the first charge decides (`rejected` if declined)."""
    principal.require(OrgKind.RETAILER)
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
        idempotency_key,
        body,
        "service_plan",
        new_case_id("PLN", datetime.now(UTC).year),
    )
    if existing is not None:
        return await _public(session, existing, settings, Viewer.of(principal, existing))
    await _refuse_second_plan(session, org_id, body.unit.serial)
    org = await session.get(models.Organisation, org_id)
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
    await start_with_update(
        client,
        settings,
        workflow=SERVICE_PLAN_WORKFLOW,
        argument=start,
        workflow_id=service_plan_workflow_id(plan_id),
        update=PLAN_ACCEPT_UPDATE,
        result_type=PlanView,
        pending_detail=f"plan {plan_id} was started but has not charged yet; retry with the "
        "same Idempotency-Key to get it",
        session=session,
        org_id=org_id,
        case_id=plan_id,
    )
    case = await session.get(models.Case, plan_id, populate_existing=True)
    assert case is not None, "the workflow records the plan before it answers"
    return await _public(session, case, settings, Viewer.of(principal, case))


@router.get("", response_model=Page[ServicePlanPublic])
async def list_plans(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[QueryText | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[ServicePlanPublic]:
    principal.require(OrgKind.RETAILER)
    query = select(models.Case).where(
        models.Case.case_type == "service_plan", models.Case.org_id == principal.owner_id
    )
    if status_filter is not None:
        query = query.where(models.Case.status == status_filter)
    rows, next_cursor = split(
        list((await session.scalars(page(query, cursor, limit))).all()), limit
    )
    items = [await _public(session, row, settings, Viewer.of(principal, row)) for row in rows]
    return Page[ServicePlanPublic](items=items, next_cursor=next_cursor)


@router.get("/{plan_id}", response_model=ServicePlanPublic)
async def get_plan(
    plan_id: str, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> ServicePlanPublic:
    case = await _owned(session, principal, plan_id)
    return await _public(session, case, settings, Viewer.of(principal, case))


@router.post("/{plan_id}/claims", status_code=status.HTTP_201_CREATED, response_model=ClaimOut)
async def claim(
    plan_id: str,
    body: ClaimBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> ClaimOut:
    """Decided at once: refused with a reason code, or approved with the repair or
    replacement it started (the deductible charged first)."""
    case = await _owned(session, principal, plan_id)
    command = command_key(idempotency_key, principal, case, CLAIM_UPDATE, body)

    async def run() -> ClaimOut:
        request = ClaimRequest(
            type=body.type,
            incident=body.incident,
            description=body.description,
            child_tracking_token=new_tracking_token(),
        )
        answer = await _send(client, settings, case, CLAIM_UPDATE, request, ClaimAnswer, command)
        return ClaimOut(
            decision=answer.decision,
            reason=answer.reason,
            repair_id=answer.repair_id,
            replacement_id=answer.replacement_id,
        )

    return await answer_once(session, command, ClaimOut, run)


@router.post("/{plan_id}/payment-method", response_model=ServicePlanPublic)
async def change_payment_method(
    plan_id: str,
    body: PaymentMethodBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> ServicePlanPublic:
    """A past-due or suspended plan retries the overdue charge at once with it."""
    case = await _owned(session, principal, plan_id)
    command = command_key(idempotency_key, principal, case, PAYMENT_METHOD_UPDATE, body)

    async def run() -> ServicePlanPublic:
        change = PaymentMethodChange(body.payment_method)
        await _send(client, settings, case, PAYMENT_METHOD_UPDATE, change, PlanView, command)
        await session.refresh(case)
        return await _public(session, case, settings, Viewer.of(principal, case))

    return await answer_once(session, command, ServicePlanPublic, run)


@router.post("/{plan_id}/cancel", response_model=CancelOut)
async def cancel(
    plan_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: PlanCancelBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CancelOut:
    case = await _owned(session, principal, plan_id)
    command = command_key(idempotency_key, principal, case, PLAN_CANCEL_UPDATE, body)

    async def run() -> CancelOut:
        request = PlanCancel(reason=body.reason if body else "")
        answer = await _send(
            client, settings, case, PLAN_CANCEL_UPDATE, request, CancelAnswer, command
        )
        refund = MoneyIO.of(answer.refund, case.currency)
        return CancelOut(refund=refund, status=answer.status.value)

    return await answer_once(session, command, CancelOut, run)


@router.post("/{plan_id}/transfer", response_model=ServicePlanPublic)
async def transfer(
    plan_id: str,
    body: TransferBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> ServicePlanPublic:
    """A new owner; a new Certificate of Coverage is issued in their name."""
    case = await _owned(session, principal, plan_id)
    command = command_key(idempotency_key, principal, case, TRANSFER_UPDATE, body)

    async def run() -> ServicePlanPublic:
        request = PlanTransfer(
            customer=body.customer.to_domain(), tracking_token=new_tracking_token()
        )
        await _send(client, settings, case, TRANSFER_UPDATE, request, PlanView, command)
        await session.refresh(case)
        return await _public(session, case, settings, Viewer.of(principal, case))

    return await answer_once(session, command, ServicePlanPublic, run)


# ------------------------------------------------------------------------ helpers


async def _send(
    client: Client,
    settings: Settings,
    case: models.Case,
    update: str,
    argument: Any,
    result_type: type[Any],
    key: CommandKey | None,
) -> Any:
    return await command_case(
        client, settings, case, update, argument, result_type, _no_actions, key
    )


async def _owned(session: AsyncSession, principal: Principal, plan_id: str) -> models.Case:
    principal.require(OrgKind.RETAILER)
    case = await session.get(models.Case, plan_id)
    if case is None or case.case_type != "service_plan" or case.org_id != principal.owner_id:
        raise not_found("service plan")
    return case


async def _refuse_second_plan(session: AsyncSession, org_id: str, serial: str) -> None:
    held = await session.scalar(
        select(models.Case.id)
        .join(models.CaseItem, models.CaseItem.case_id == models.Case.id)
        .where(
            models.Case.org_id == org_id,
            models.Case.case_type == "service_plan",
            models.Case.status.in_(["waiting_period", "active", "past_due", "suspended"]),
            models.CaseItem.serial == serial,
        )
        .limit(1)
    )
    if held is not None:
        raise Problem(409, "duplicate_open_case", f"unit {serial} already has a plan", case_id=held)


async def _public(
    session: AsyncSession, case: models.Case, settings: Settings, viewer: Viewer
) -> ServicePlanPublic:
    payments = (
        await session.scalars(
            select(models.Payment)
            .where(models.Payment.case_id == case.id)
            .order_by(models.Payment.created_at, models.Payment.id)
        )
    ).all()
    return service_plan_public(
        await load_case_bundle(session, case), payments, settings.public_base_url, viewer
    )
