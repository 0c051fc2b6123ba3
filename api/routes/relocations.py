"""Relocations of installed equipment, worked by a provider (a repair center org)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api import idempotency
from api.auth import OrgKind
from api.case_access import CaseRef, CaseResource, Partner
from api.case_views import relocation_public
from api.catalog import catalog, refuse_open_case
from api.commands import CaseCommands, CommandsDep
from api.deps import PrincipalDep, ReadsDep, SessionDep, SettingsDep
from api.errors import Problem
from api.pagination import LimitQuery
from api.routes import site_visits
from api.schemas.common import Page
from api.schemas.relocation import (
    AppointmentBody,
    CommissioningBody,
    RelocationCancelBody,
    RelocationCreate,
    RelocationPublic,
    StageBody,
    checklist_of,
)
from api.schemas.setup import PolicyDocument
from api.schemas.shipping import RetryShippingBody
from api.shipping_retry import retry_shipping
from db.assets import asset_id
from db.organisations import organisation
from db.policies import policy_document
from domain.ids import new_case_id, new_tracking_token, relocation_workflow_id
from domain.relocation import (
    BOOK_UPDATE,
    COMMISSION_UPDATE,
    RELOCATION_ACCEPT_UPDATE,
    RELOCATION_CANCEL_UPDATE,
    RELOCATION_WORKFLOW,
    STAGE_UPDATE,
    BookAppointment,
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
    body: RelocationCreate, principal: PrincipalDep, commands: CommandsDep
) -> RelocationPublic:
    principal.require(OrgKind.RETAILER)
    session, settings = commands.session, commands.settings
    org_id = principal.owner_id
    product = (await catalog(session, org_id, {body.asset.sku}))[body.asset.sku]
    provider = await site_visits.provider_name(session, body.provider_org_id)
    relocation_id, existing = await idempotency.claim_case(
        session,
        org_id,
        commands.key,
        body,
        "relocation",
        new_case_id("REL", datetime.now(UTC).year),
    )
    if existing is not None:
        return await RELOCATION_COMMANDS.view(commands, principal, existing.id)
    await refuse_open_case(session, org_id, body.asset.serial, relocation_id)
    from_site = body.from_site.to_domain()
    asset = await asset_id(session, org_id, body.asset.sku, body.asset.serial, from_site.to_json())
    org = await organisation(session, org_id)
    assert org is not None
    policy = PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()
    start = RelocationStart(
        relocation_id=relocation_id,
        org_id=org_id,
        org_name=org.name,
        tracking_token=new_tracking_token(),
        provider_org_id=body.provider_org_id,
        provider_name=provider,
        asset_id=asset,
        sku=body.asset.sku,
        serial=body.asset.serial,
        product_name=product.name,
        from_site=from_site,
        to_site=body.to_site.to_domain(),
        customer=body.customer.to_domain(),
        policy=policy,
        public_base_url=settings.public_base_url,
    )
    return await RELOCATION_COMMANDS.start(
        commands,
        principal,
        case_id=relocation_id,
        workflow=RELOCATION_WORKFLOW,
        argument=start,
        workflow_id=relocation_workflow_id(relocation_id),
        update=RELOCATION_ACCEPT_UPDATE,
        pending_detail=f"relocation {relocation_id} was started but has not answered yet; "
        "retry with the same Idempotency-Key to get it",
    )


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
    status_value = status_filter.value if status_filter is not None else None
    bundles, next_cursor = await RELOCATIONS.page(session, principal, status_value, cursor, limit)
    items = [RELOCATION_COMMANDS.show(bundle, principal, settings) for bundle in bundles]
    return Page[RelocationPublic](items=items, next_cursor=next_cursor)


async def _relocation(relocation_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The relocation for its retailer and its provider."""
    return RELOCATIONS.ref(reads, principal, relocation_id)


async def _worked_relocation(
    relocation_id: str, principal: PrincipalDep, reads: ReadsDep
) -> CaseRef:
    """The relocation for a command only its provider gives."""
    return RELOCATIONS.ref(reads, principal, relocation_id, kinds=(OrgKind.REPAIR_CENTER,))


async def _own_relocation(relocation_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The relocation for a command only its retailer gives."""
    return RELOCATIONS.ref(reads, principal, relocation_id, kinds=(OrgKind.RETAILER,))


Relocation = Annotated[CaseRef, Depends(_relocation)]
WorkedRelocation = Annotated[CaseRef, Depends(_worked_relocation)]
OwnRelocation = Annotated[CaseRef, Depends(_own_relocation)]


@router.get("/{relocation_id}", response_model=RelocationPublic)
async def get_relocation(relocation: Relocation, settings: SettingsDep) -> RelocationPublic:
    return await RELOCATION_COMMANDS.detail(relocation, settings)


@router.post("/{relocation_id}/retry-shipping", response_model=RelocationPublic)
async def retry_relocation_shipping(
    relocation: OwnRelocation, commands: CommandsDep, body: RetryShippingBody | None = None
) -> RelocationPublic:
    """Book again a parcel the carrier refused (`carrier_error`), with the customer's
    address corrected if `address` is given."""
    return await retry_shipping(RELOCATION_COMMANDS, commands, relocation, body)


@router.post("/{relocation_id}/appointments", response_model=RelocationPublic)
async def book_appointment(
    body: AppointmentBody, relocation: WorkedRelocation, commands: CommandsDep
) -> RelocationPublic:
    await relocation.open()  # another's relocation is a 404 before the date is judged
    if body.starts_at <= datetime.now(UTC):
        raise Problem(422, "appointment_in_past", "an appointment must start in the future")
    actor = relocation.principal.actor()
    request = BookAppointment(actor, body.stage, body.starts_at, body.technician)
    return await RELOCATION_COMMANDS.send(commands, relocation, BOOK_UPDATE, request, body=body)


@router.post("/{relocation_id}/status", response_model=RelocationPublic)
async def report_stage(
    body: StageBody, relocation: WorkedRelocation, commands: CommandsDep
) -> RelocationPublic:
    """`uninstalled` or `reinstalled` with the checklist, or `missed` (back to scheduling)."""
    actor = relocation.principal.actor()
    report = StageReport(actor, body.status, checklist_of(body.checklist))
    return await RELOCATION_COMMANDS.send(commands, relocation, STAGE_UPDATE, report, body=body)


@router.post("/{relocation_id}/commissioning", response_model=RelocationPublic)
async def commission(
    body: CommissioningBody, relocation: WorkedRelocation, commands: CommandsDep
) -> RelocationPublic:
    """Every item passed: completed, certificate issued, the asset moves. Else stays put."""
    request = Commissioning(relocation.principal.actor(), checklist_of(body.checklist))
    return await RELOCATION_COMMANDS.send(
        commands, relocation, COMMISSION_UPDATE, request, body=body
    )


@router.post("/{relocation_id}/cancel", response_model=RelocationPublic)
async def cancel_relocation(
    relocation: OwnRelocation, commands: CommandsDep, body: RelocationCancelBody | None = None
) -> RelocationPublic:
    """The retailer cancels until the equipment is on the road (an addition to api.md)."""
    request = RelocationCancel(relocation.principal.actor(), body.reason if body else "")
    return await RELOCATION_COMMANDS.send(
        commands, relocation, RELOCATION_CANCEL_UPDATE, request, body=body
    )


# ------------------------------------------------------------------------ helpers


RELOCATIONS = CaseResource(
    "relocation", "relocation", Partner.RECEIVER, partner_lists=True, partner_queue=True
)
# Also how the customer asks to reschedule (api.routes.tracking): one command path.
RELOCATION_COMMANDS = CaseCommands(
    RelocationView,
    lambda status: allowed_actions(RelocationStatus(status)),
    relocation_public,
    RelocationPublic,
)
