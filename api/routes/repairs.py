"""Repair jobs: direct creation by a retailer, the center's queue, and its commands."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, status

from api import idempotency
from api.auth import OrgKind
from api.case_views import Viewer, repair_public
from api.catalog import catalog, refuse_open_case
from api.commands import CaseCommands, start_with_update
from api.deps import PrincipalDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem
from api.idempotency import IdempotencyKey
from api.pagination import LimitQuery
from api.schemas.common import MoneyIO, Page
from api.schemas.repair import (
    DiagnosisBody,
    QaBody,
    RepairCancelBody,
    RepairCreate,
    RepairPublic,
    StatusBody,
)
from api.schemas.setup import PolicyDocument
from api.worked_cases import list_cases, visible_case, worked_case
from db import models
from db.queries import load_case_bundle, policy_document
from domain.durations import add_months
from domain.ids import new_case_id, new_tracking_token, repair_workflow_id
from domain.repair import (
    ACCEPT_UPDATE,
    DIAGNOSIS_UPDATE,
    QA_UPDATE,
    REPAIR_CANCEL_UPDATE,
    REPAIR_WORKFLOW,
    STATUS_UPDATE,
    Diagnosis,
    Part,
    QaReport,
    RepairCancel,
    RepairCoverage,
    RepairStart,
    RepairStatus,
    RepairUnit,
    RepairView,
    StatusChange,
    allowed_next,
)

router = APIRouter(prefix="/v1/repairs", tags=["repairs"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RepairPublic,
    summary="Open a repair job; answers once it is routed (or `unroutable`)",
)
async def create_repair(
    body: RepairCreate,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RepairPublic:
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    now = datetime.now(UTC)
    if body.unit.purchased_at > now:
        raise Problem(422, "invalid_purchase_date", "the purchase date is in the future")
    product = (await catalog(session, org_id, {body.unit.sku}))[body.unit.sku]

    repair_id, existing = await idempotency.claim_case(
        session, org_id, idempotency_key, body, "repair", new_case_id("REP", now.year)
    )
    if existing is not None:
        bundle = await load_case_bundle(session, existing)
        return repair_public(bundle, settings.public_base_url, Viewer.of(principal, existing))
    await refuse_open_case(session, org_id, body.unit.serial, repair_id)

    org = await session.get(models.Organisation, org_id)
    assert org is not None
    policy = PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()
    coverage = body.coverage
    if coverage is None:
        in_warranty = now < add_months(body.unit.purchased_at, product.warranty_months)
        coverage = RepairCoverage.WARRANTY if in_warranty else RepairCoverage.PAID
    customer = body.customer.to_domain()
    start = RepairStart(
        repair_id=repair_id,
        org_id=org_id,
        org_name=org.name,
        tracking_token=new_tracking_token(),
        unit=RepairUnit(
            sku=body.unit.sku,
            serial=body.unit.serial,
            product_name=product.name,
            category=product.category,
            purchased_at=body.unit.purchased_at,
            unit_price=product.unit_price,
        ),
        fault=body.fault,
        customer=customer,
        coverage=coverage,
        policy=policy,
        public_base_url=settings.public_base_url,
        # A direct repair: the customer sends the unit to the center on our label.
        unit_origin=customer.address,
        replacement_tracking_token=new_tracking_token(),
    )
    await start_with_update(
        client,
        settings,
        workflow=REPAIR_WORKFLOW,
        argument=start,
        workflow_id=repair_workflow_id(repair_id),
        update=ACCEPT_UPDATE,
        result_type=RepairView,
        pending_detail=f"repair {repair_id} was started but no worker has routed it yet; "
        "retry with the same Idempotency-Key to get it",
        session=session,
        org_id=org_id,
        case_id=repair_id,
    )
    case = await session.get(models.Case, repair_id, populate_existing=True)
    assert case is not None, "the workflow records the case before it answers"
    bundle = await load_case_bundle(session, case)
    return repair_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.get("", response_model=Page[RepairPublic])
async def list_repairs(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[RepairStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[RepairPublic]:
    """A retailer's jobs, newest first; a center's assigned queue, oldest first."""
    bundles, next_cursor = await list_cases(
        session,
        principal,
        "repair",
        status_filter.value if status_filter is not None else None,
        cursor,
        limit,
    )
    items = [
        repair_public(bundle, settings.public_base_url, Viewer.of(principal, bundle.case))
        for bundle in bundles
    ]
    return Page[RepairPublic](items=items, next_cursor=next_cursor)


@router.get("/{repair_id}", response_model=RepairPublic)
async def get_repair(
    repair_id: str, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> RepairPublic:
    case = await visible_case(session, principal, "repair", repair_id)
    bundle = await load_case_bundle(session, case)
    return repair_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.post("/{repair_id}/status", response_model=RepairPublic)
async def report_status(
    repair_id: str,
    body: StatusBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RepairPublic:
    """`received`, `diagnosing`, `repairing` (parts in) or `quality_check`."""
    case = await worked_case(session, principal, "repair", repair_id)
    change = StatusChange(actor=principal.actor(), status=body.status, note=body.note)
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        STATUS_UPDATE,
        change,
        key=idempotency_key,
        body=body,
    )


@router.post("/{repair_id}/diagnosis", response_model=RepairPublic)
async def diagnose(
    repair_id: str,
    body: DiagnosisBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RepairPublic:
    case = await worked_case(session, principal, "repair", repair_id)
    diagnosis = Diagnosis(
        actor=principal.actor(),
        fault_code=body.fault_code,
        findings=body.findings,
        parts=[
            Part(
                part_no=p.part_no,
                description=p.description,
                quantity=p.quantity,
                unit_price=_amount(p.unit_price),
            )
            for p in body.parts
        ],
        labor_minutes=body.labor_minutes,
        repairable=body.repairable,
    )
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        DIAGNOSIS_UPDATE,
        diagnosis,
        key=idempotency_key,
        body=body,
    )


@router.post("/{repair_id}/qa", response_model=RepairPublic)
async def quality_check(
    repair_id: str,
    body: QaBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RepairPublic:
    case = await worked_case(session, principal, "repair", repair_id)
    report = QaReport(actor=principal.actor(), passed=body.passed, notes=body.notes)
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        QA_UPDATE,
        report,
        key=idempotency_key,
        body=body,
    )


@router.post("/{repair_id}/cancel", response_model=RepairPublic)
async def cancel_repair(
    repair_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: RepairCancelBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RepairPublic:
    """The owning retailer cancels, until the repair has started (`repairing`)."""
    principal.require(OrgKind.RETAILER)
    case = await visible_case(session, principal, "repair", repair_id)
    request = RepairCancel(actor=principal.actor(), reason=body.reason if body else "")
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        REPAIR_CANCEL_UPDATE,
        request,
        key=idempotency_key,
        body=body,
    )


# ------------------------------------------------------------------------ helpers


def _amount(value: MoneyIO | Decimal) -> Decimal:
    return value.amount if isinstance(value, MoneyIO) else value


_command = CaseCommands(
    RepairView, lambda status: allowed_next(RepairStatus(status)), repair_public, RepairPublic
).send
