"""Relocations of installed equipment, worked by a provider (a repair center org)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api import idempotency
from api.auth import OrgKind
from api.case_views import Viewer, relocation_public
from api.catalog import catalog, refuse_open_case
from api.commands import CaseCommands, start_with_update
from api.deps import PrincipalDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem
from api.idempotency import IdempotencyKey
from api.pagination import LimitQuery
from api.schemas.common import Page
from api.schemas.relocation import (
    AppointmentBody,
    ChecklistItemIn,
    CommissioningBody,
    RelocationCancelBody,
    RelocationCreate,
    RelocationPublic,
    StageBody,
)
from api.schemas.setup import PolicyDocument
from api.worked_cases import list_cases, visible_case, worked_case
from db import models
from db.queries import load_case_bundle, policy_document
from db.types import utcnow
from domain.common import Address
from domain.ids import new_case_id, new_tracking_token, relocation_workflow_id
from domain.relocation import (
    BOOK_UPDATE,
    COMMISSION_UPDATE,
    RELOCATION_ACCEPT_UPDATE,
    RELOCATION_CANCEL_UPDATE,
    RELOCATION_WORKFLOW,
    STAGE_UPDATE,
    BookAppointment,
    ChecklistItem,
    Commissioning,
    RelocationCancel,
    RelocationStart,
    RelocationStatus,
    RelocationView,
    StageReport,
    allowed_actions,
)

router = APIRouter(prefix="/v1/relocations", tags=["relocations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RelocationPublic,
    summary="Order a relocation from a provider; the asset is found or created by SKU+serial",
)
async def create_relocation(
    body: RelocationCreate,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RelocationPublic:
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    product = (await catalog(session, org_id, {body.asset.sku}))[body.asset.sku]
    provider = await session.get(models.Organisation, body.provider_org_id)
    if provider is None or provider.kind != OrgKind.REPAIR_CENTER.value:
        raise Problem(
            422,
            "unknown_provider",
            "provider_org_id must name a repair center organisation",
        )
    provider_name = provider.name
    relocation_id, existing = await idempotency.claim_case(
        session,
        org_id,
        idempotency_key,
        body,
        "relocation",
        new_case_id("REL", datetime.now(UTC).year),
    )
    if existing is not None:
        bundle = await load_case_bundle(session, existing)
        return relocation_public(bundle, settings.public_base_url, Viewer.of(principal, existing))
    await refuse_open_case(session, org_id, body.asset.serial, relocation_id)
    from_site = body.from_site.to_domain()
    asset_id = await _asset(session, org_id, body.asset.sku, body.asset.serial, from_site)
    org = await session.get(models.Organisation, org_id)
    assert org is not None
    policy = PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()
    start = RelocationStart(
        relocation_id=relocation_id,
        org_id=org_id,
        org_name=org.name,
        tracking_token=new_tracking_token(),
        provider_org_id=body.provider_org_id,
        provider_name=provider_name,
        asset_id=asset_id,
        sku=body.asset.sku,
        serial=body.asset.serial,
        product_name=product.name,
        from_site=from_site,
        to_site=body.to_site.to_domain(),
        customer=body.customer.to_domain(),
        policy=policy,
        public_base_url=settings.public_base_url,
    )
    await start_with_update(
        client,
        settings,
        workflow=RELOCATION_WORKFLOW,
        argument=start,
        workflow_id=relocation_workflow_id(relocation_id),
        update=RELOCATION_ACCEPT_UPDATE,
        result_type=RelocationView,
        pending_detail=f"relocation {relocation_id} was started but has not answered yet; "
        "retry with the same Idempotency-Key to get it",
        session=session,
        org_id=org_id,
        case_id=relocation_id,
    )
    case = await session.get(models.Case, relocation_id, populate_existing=True)
    assert case is not None, "the workflow records the case before it answers"
    bundle = await load_case_bundle(session, case)
    return relocation_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.get("", response_model=Page[RelocationPublic])
async def list_relocations(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[RelocationStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[RelocationPublic]:
    """A retailer's relocations, newest first; a provider's, oldest first."""
    bundles, next_cursor = await list_cases(
        session,
        principal,
        "relocation",
        status_filter.value if status_filter is not None else None,
        cursor,
        limit,
    )
    items = [
        relocation_public(bundle, settings.public_base_url, Viewer.of(principal, bundle.case))
        for bundle in bundles
    ]
    return Page[RelocationPublic](items=items, next_cursor=next_cursor)


@router.get("/{relocation_id}", response_model=RelocationPublic)
async def get_relocation(
    relocation_id: str, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> RelocationPublic:
    case = await visible_case(session, principal, "relocation", relocation_id)
    bundle = await load_case_bundle(session, case)
    return relocation_public(bundle, settings.public_base_url, Viewer.of(principal, case))


@router.post("/{relocation_id}/appointments", response_model=RelocationPublic)
async def book_appointment(
    relocation_id: str,
    body: AppointmentBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RelocationPublic:
    case = await worked_case(session, principal, "relocation", relocation_id)
    if body.starts_at <= datetime.now(UTC):
        raise Problem(422, "appointment_in_past", "an appointment must start in the future")
    request = BookAppointment(principal.actor(), body.stage, body.starts_at, body.technician)
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        BOOK_UPDATE,
        request,
        key=idempotency_key,
        body=body,
    )


@router.post("/{relocation_id}/status", response_model=RelocationPublic)
async def report_stage(
    relocation_id: str,
    body: StageBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RelocationPublic:
    """`uninstalled` or `reinstalled` with the checklist, or `missed` (back to scheduling)."""
    case = await worked_case(session, principal, "relocation", relocation_id)
    report = StageReport(principal.actor(), body.status, _checklist(body.checklist))
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        STAGE_UPDATE,
        report,
        key=idempotency_key,
        body=body,
    )


@router.post("/{relocation_id}/commissioning", response_model=RelocationPublic)
async def commission(
    relocation_id: str,
    body: CommissioningBody,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RelocationPublic:
    """Every item passed: completed, certificate issued, the asset moves. Else stays put."""
    case = await worked_case(session, principal, "relocation", relocation_id)
    request = Commissioning(principal.actor(), _checklist(body.checklist))
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        COMMISSION_UPDATE,
        request,
        key=idempotency_key,
        body=body,
    )


@router.post("/{relocation_id}/cancel", response_model=RelocationPublic)
async def cancel_relocation(
    relocation_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    body: RelocationCancelBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RelocationPublic:
    """The retailer cancels until the equipment is on the road (an addition to api.md)."""
    principal.require(OrgKind.RETAILER)
    case = await visible_case(session, principal, "relocation", relocation_id)
    request = RelocationCancel(principal.actor(), body.reason if body else "")
    return await _command(
        session,
        client,
        settings,
        principal,
        case,
        RELOCATION_CANCEL_UPDATE,
        request,
        key=idempotency_key,
        body=body,
    )


# ------------------------------------------------------------------------ helpers


async def _asset(session: AsyncSession, org_id: str, sku: str, serial: str, site: Address) -> str:
    """The asset's id, created at `site` the first time it is seen."""
    query = select(models.Asset.id).where(
        models.Asset.org_id == org_id, models.Asset.sku == sku, models.Asset.serial == serial
    )
    found = await session.scalar(query)
    if found is not None:
        return found
    asset = models.Asset(
        org_id=org_id, sku=sku, serial=serial, site=site.to_json(), created_at=utcnow()
    )
    session.add(asset)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # created concurrently: use that one
        found = await session.scalar(query)
        assert found is not None
        return found
    return asset.id


def _checklist(items: list[ChecklistItemIn]) -> list[ChecklistItem]:
    return [ChecklistItem(i.item, i.passed, i.note) for i in items]


_command = CaseCommands(
    RelocationView,
    lambda status: allowed_actions(RelocationStatus(status)),
    relocation_public,
    RelocationPublic,
).send
