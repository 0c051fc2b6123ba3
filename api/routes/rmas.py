"""Return merchandise authorizations: create (with the decision), list, detail, commands."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
)

from api import idempotency
from api.auth import OrgKind, Principal
from api.case_views import Viewer, rma_public
from api.catalog import Product, catalog
from api.commands import CaseCommands, start_with_update
from api.deps import PrincipalDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, not_found
from api.idempotency import IdempotencyKey
from api.pagination import LimitQuery, page, split
from api.schemas.common import Page
from api.schemas.rma import (
    CancelBody,
    InspectionBody,
    ReceiveBody,
    RejectBody,
    RmaCreate,
    RmaPublic,
)
from api.schemas.setup import PolicyDocument
from db import models
from db.queries import load_case_bundle, policy_document
from domain.common import CLOSED_STATUSES
from domain.ids import new_case_id, new_tracking_token, rma_workflow_id
from domain.rma import (
    ALLOWED_ACTIONS,
    AUTHORIZE_UPDATE,
    CANCEL_UPDATE,
    INSPECT_UPDATE,
    RECEIVE_UPDATE,
    REVIEW_UPDATE,
    RMA_WORKFLOW,
    CancelRequest,
    InspectionRequest,
    ReceiveRequest,
    Resolution,
    ReviewDecision,
    RmaItem,
    RmaStart,
    RmaStatus,
    RmaView,
)
from settings import Settings

router = APIRouter(prefix="/v1/rmas", tags=["rma"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RmaPublic,
    summary="Authorize a return; answers with the decision already made",
)
async def create_rma(
    body: RmaCreate,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RmaPublic:
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    now = datetime.now(UTC)
    if body.purchased_at > now:
        raise Problem(422, "invalid_purchase_date", "the purchase date is in the future")
    single_unit = body.resolution in (Resolution.REPAIR, Resolution.REPLACEMENT)
    if single_unit and (len(body.items) > 1 or body.items[0].quantity > 1):
        raise Problem(
            422,
            "single_unit_required",
            f"a {body.resolution.value} is for one unit: send one item with quantity 1 per RMA",
        )
    products = await catalog(session, org_id, {item.sku for item in body.items})

    rma_id, existing = await idempotency.claim_case(
        session, org_id, idempotency_key, body, "rma", new_case_id("RMA", now.year)
    )
    if existing is not None:
        bundle = await load_case_bundle(session, existing)
        return rma_public(bundle, settings.public_base_url, Viewer.of(principal, existing))

    start = await _start_input(session, settings, principal, body, products, rma_id)
    await _authorize(session, client, settings, start)
    case = await session.get(models.Case, rma_id, populate_existing=True)
    assert case is not None, "the workflow records the case before it answers"
    bundle = await load_case_bundle(session, case)
    return rma_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.get("", response_model=Page[RmaPublic])
async def list_rmas(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[RmaStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[RmaPublic]:
    principal.require(OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
    query = select(models.Case).where(models.Case.case_type == "rma")
    if principal.kind is OrgKind.RETAILER:
        query = query.where(models.Case.org_id == principal.owner_id)
    else:
        query = query.where(models.Case.receiving_org_id == principal.owner_id)
    if status_filter is not None:
        query = query.where(models.Case.status == status_filter.value)
    rows, next_cursor = split(
        list((await session.scalars(page(query, cursor, limit))).all()), limit
    )
    items = [
        rma_public(
            await load_case_bundle(session, row),
            settings.public_base_url,
            Viewer.of(principal, row),
        )
        for row in rows
    ]
    return Page[RmaPublic](items=items, next_cursor=next_cursor)


@router.get("/{rma_id}", response_model=RmaPublic)
async def get_rma(
    rma_id: str, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> RmaPublic:
    case = await _visible(session, principal, rma_id, receiving_allowed=True)
    bundle = await load_case_bundle(session, case)
    return rma_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.post("/{rma_id}/approve", response_model=RmaPublic)
async def approve_rma(
    rma_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RmaPublic:
    case = await _visible(session, principal, rma_id, receiving_allowed=False)
    decision = ReviewDecision(actor=principal.actor(), approve=True)
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        REVIEW_UPDATE,
        decision,
        "approve",
        key=idempotency_key,
    )


@router.post("/{rma_id}/reject", response_model=RmaPublic)
async def reject_rma(
    rma_id: str,
    body: RejectBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RmaPublic:
    case = await _visible(session, principal, rma_id, receiving_allowed=False)
    decision = ReviewDecision(actor=principal.actor(), approve=False, reason=body.reason)
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        REVIEW_UPDATE,
        decision,
        "reject",
        key=idempotency_key,
        body=body,
    )


@router.post("/{rma_id}/cancel", response_model=RmaPublic)
async def cancel_rma(
    rma_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: CancelBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RmaPublic:
    case = await _visible(session, principal, rma_id, receiving_allowed=False)
    request = CancelRequest(actor=principal.actor(), reason=body.reason if body else "")
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        CANCEL_UPDATE,
        request,
        "cancel",
        key=idempotency_key,
        body=body,
    )


@router.post("/{rma_id}/receive", response_model=RmaPublic)
async def receive_rma(
    rma_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: ReceiveBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RmaPublic:
    case = await _visible(session, principal, rma_id, receiving_allowed=True)
    request = ReceiveRequest(actor=principal.actor(), note=body.note if body else "")
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        RECEIVE_UPDATE,
        request,
        "receive",
        key=idempotency_key,
        body=body,
    )


@router.post("/{rma_id}/inspection", response_model=RmaPublic)
async def inspect_rma(
    rma_id: str,
    body: InspectionBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RmaPublic:
    case = await _visible(session, principal, rma_id, receiving_allowed=True)
    request = InspectionRequest(
        actor=principal.actor(),
        grade=body.grade,
        serial_matches=body.serial_matches,
        notes=body.notes,
    )
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        INSPECT_UPDATE,
        request,
        "inspection",
        key=idempotency_key,
        body=body,
    )


# ------------------------------------------------------------------------ helpers


async def _start_input(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    body: RmaCreate,
    products: dict[str, Product],
    rma_id: str,
) -> RmaStart:
    org_id = principal.owner_id
    org = await session.get(models.Organisation, org_id)
    assert org is not None
    policy = PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()
    serials = [item.serial for item in body.items]
    open_serials = (
        await session.scalars(
            select(models.CaseItem.serial)
            .join(models.Case, models.Case.id == models.CaseItem.case_id)
            .where(
                models.Case.org_id == org_id,
                models.CaseItem.serial.in_(serials),
                models.Case.status.not_in(CLOSED_STATUSES),
                models.Case.case_type != "service_plan",
                models.Case.id != rma_id,
            )
        )
    ).all()
    plan_serials = (
        await session.scalars(
            select(models.CaseItem.serial)
            .join(models.Case, models.Case.id == models.CaseItem.case_id)
            .where(
                models.Case.org_id == org_id,
                models.Case.case_type == "service_plan",
                models.Case.status == "active",
                models.CaseItem.serial.in_(serials),
            )
        )
    ).all()
    return RmaStart(
        rma_id=rma_id,
        org_id=org_id,
        org_name=org.name,
        tracking_token=new_tracking_token(),
        order_ref=body.order_ref,
        purchased_at=body.purchased_at,
        customer=body.customer.to_domain(),
        items=[
            RmaItem(
                sku=item.sku,
                serial=item.serial,
                quantity=item.quantity,
                reason=item.reason,
                unit_price=Decimal(products[item.sku].unit_price),
                product_name=products[item.sku].name,
                category=products[item.sku].category,
                warranty_months=products[item.sku].warranty_months,
                notes=item.notes,
            )
            for item in body.items
        ],
        resolution=body.resolution,
        policy=policy,
        public_base_url=settings.public_base_url,
        serials_with_open_cases=sorted(set(open_serials)),
        serials_with_active_plans=sorted(set(plan_serials)),
        repair_tracking_token=new_tracking_token(),
        replacement_tracking_token=new_tracking_token(),
    )


async def _authorize(
    session: AsyncSession, client: Client, settings: Settings, start: RmaStart
) -> RmaView:
    return await start_with_update(
        client,
        settings,
        workflow=RMA_WORKFLOW,
        argument=start,
        workflow_id=rma_workflow_id(start.rma_id),
        update=AUTHORIZE_UPDATE,
        result_type=RmaView,
        pending_detail=f"RMA {start.rma_id} was started but no worker has decided it yet; "
        "retry with the same Idempotency-Key to get the decision",
        session=session,
        org_id=start.org_id,
        case_id=start.rma_id,
    )


async def _visible(
    session: AsyncSession, principal: Principal, rma_id: str, receiving_allowed: bool
) -> models.Case:
    """The case if this key may see it; another organisation's case is a 404."""
    principal.require(OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
    case = await session.get(models.Case, rma_id)
    if case is None or case.case_type != "rma":
        raise not_found("RMA")
    if principal.kind is OrgKind.RETAILER and case.org_id == principal.owner_id:
        return case
    if principal.kind is OrgKind.REPAIR_CENTER and case.receiving_org_id == principal.org_id:
        if not receiving_allowed:
            raise Problem(403, "forbidden", "only the retailer may do this")
        return case
    raise not_found("RMA")


_command = CaseCommands(
    RmaView, lambda status: ALLOWED_ACTIONS[RmaStatus(status)], rma_public, RmaPublic
).send
