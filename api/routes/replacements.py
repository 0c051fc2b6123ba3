"""Replacements: standard or advance (ship first, deposit hold, core return)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api import idempotency
from api.auth import OrgKind, Principal
from api.case_views import Viewer, replacement_public
from api.catalog import catalog, refuse_open_case
from api.commands import CaseCommands, start_with_update
from api.deps import PrincipalDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, not_found
from api.idempotency import IdempotencyKey
from api.pagination import LimitQuery, page, split
from api.schemas.common import Page
from api.schemas.replacement import (
    CoreReceivedBody,
    ReplacementCancelBody,
    ReplacementCreate,
    ReplacementPublic,
)
from api.schemas.setup import PolicyDocument
from db import models
from db.queries import load_case_bundle, policy_document
from domain.ids import new_case_id, new_tracking_token, replacement_workflow_id
from domain.replacement import (
    ALLOWED_ACTIONS,
    CORE_RECEIVED_UPDATE,
    REPLACEMENT_ACCEPT_UPDATE,
    REPLACEMENT_CANCEL_UPDATE,
    REPLACEMENT_WORKFLOW,
    CoreReceived,
    ReplacementCancel,
    ReplacementMode,
    ReplacementStart,
    ReplacementStatus,
    ReplacementView,
)

router = APIRouter(prefix="/v1/replacements", tags=["replacements"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReplacementPublic,
    summary="Replace a unit; answers once it has shipped, is backordered or was refused",
)
async def create_replacement(
    body: ReplacementCreate,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> ReplacementPublic:
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    if body.mode is ReplacementMode.ADVANCE and not body.payment_method:
        raise Problem(
            422,
            "payment_method_required",
            "an advance replacement holds a deposit: send the payment_method to hold it on",
        )
    replacement_sku = body.replacement_sku or body.unit.sku
    products = await catalog(session, org_id, {body.unit.sku, replacement_sku})
    product = products[replacement_sku]

    replacement_id, existing = await idempotency.claim_case(
        session,
        org_id,
        idempotency_key,
        body,
        "replacement",
        new_case_id("RPL", datetime.now(UTC).year),
    )
    if existing is not None:
        bundle = await load_case_bundle(session, existing)
        return replacement_public(bundle, settings.public_base_url, Viewer.of(principal, existing))
    await refuse_open_case(session, org_id, body.unit.serial, replacement_id)
    org = await session.get(models.Organisation, org_id)
    assert org is not None
    policy = PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()
    start = ReplacementStart(
        replacement_id=replacement_id,
        org_id=org_id,
        org_name=org.name,
        tracking_token=new_tracking_token(),
        mode=body.mode,
        sku=body.unit.sku,
        serial=body.unit.serial,
        replacement_sku=replacement_sku,
        replacement_name=product.name,
        unit_price=product.unit_price,
        customer=body.customer.to_domain(),
        payment_method=body.payment_method or "original",
        policy=policy,
        public_base_url=settings.public_base_url,
    )
    await start_with_update(
        client,
        settings,
        workflow=REPLACEMENT_WORKFLOW,
        argument=start,
        workflow_id=replacement_workflow_id(replacement_id),
        update=REPLACEMENT_ACCEPT_UPDATE,
        result_type=ReplacementView,
        pending_detail=f"replacement {replacement_id} was started but has not answered yet; "
        "retry with the same Idempotency-Key to get it",
        session=session,
        org_id=org_id,
        case_id=replacement_id,
    )
    case = await session.get(models.Case, replacement_id, populate_existing=True)
    assert case is not None, "the workflow records the case before it answers"
    bundle = await load_case_bundle(session, case)
    return replacement_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.get("", response_model=Page[ReplacementPublic])
async def list_replacements(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[ReplacementStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[ReplacementPublic]:
    principal.require(OrgKind.RETAILER)
    query = select(models.Case).where(
        models.Case.case_type == "replacement", models.Case.org_id == principal.owner_id
    )
    if status_filter is not None:
        query = query.where(models.Case.status == status_filter.value)
    rows, next_cursor = split(
        list((await session.scalars(page(query, cursor, limit))).all()), limit
    )
    items = [
        replacement_public(
            await load_case_bundle(session, row),
            settings.public_base_url,
            Viewer.of(principal, row),
        )
        for row in rows
    ]
    return Page[ReplacementPublic](items=items, next_cursor=next_cursor)


@router.get("/{replacement_id}", response_model=ReplacementPublic)
async def get_replacement(
    replacement_id: str, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> ReplacementPublic:
    """Its retailer; and the repair center whose job ended in it (which may report its core
    received), shown it as the worker."""
    principal.require(OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
    case = await _visible(session, principal, replacement_id)
    bundle = await load_case_bundle(session, case)
    return replacement_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.post("/{replacement_id}/core-received", response_model=ReplacementPublic)
async def core_received(
    replacement_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: CoreReceivedBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> ReplacementPublic:
    """The defective core is back: the deposit hold is released and the case completes."""
    principal.require(OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
    case = await _visible(session, principal, replacement_id)
    request = CoreReceived(actor=principal.actor(), note=body.note if body else "")
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        CORE_RECEIVED_UPDATE,
        request,
        key=idempotency_key,
        body=body,
    )


@router.post("/{replacement_id}/cancel", response_model=ReplacementPublic)
async def cancel_replacement(
    replacement_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: ReplacementCancelBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> ReplacementPublic:
    """Before shipping: releases the reservation and any hold, voids labels."""
    principal.require(OrgKind.RETAILER)
    case = await _visible(session, principal, replacement_id)
    request = ReplacementCancel(actor=principal.actor(), reason=body.reason if body else "")
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        REPLACEMENT_CANCEL_UPDATE,
        request,
        key=idempotency_key,
        body=body,
    )


async def _visible(session: AsyncSession, principal: Principal, replacement_id: str) -> models.Case:
    """Its retailer sees it; a repair center only when it came from a job assigned to it."""
    case = await session.get(models.Case, replacement_id)
    if case is None or case.case_type != "replacement":
        raise not_found("replacement")
    if principal.kind is OrgKind.RETAILER and case.org_id == principal.owner_id:
        return case
    repair_id = case.links.get("repair_id")
    if principal.kind is OrgKind.REPAIR_CENTER and repair_id:
        repair = await session.get(models.Case, repair_id)
        if repair is not None and repair.receiving_org_id == principal.owner_id:
            return case
    raise not_found("replacement")


_command = CaseCommands(
    ReplacementView,
    lambda status: ALLOWED_ACTIONS[ReplacementStatus(status)],
    replacement_public,
    ReplacementPublic,
).send
