"""Installations at the customer's site, worked by a provider (a repair center org), as
relocations are (api.md "Installations", lifecycles.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api import idempotency
from api.auth import OrgKind
from api.case_access import CaseRef, CaseResource, Partner
from api.case_views import Viewer, documents_out, shipments_out, timeline_out
from api.catalog import catalog, refuse_open_case, retailer_terms
from api.commands import CaseCommands, CommandsDep
from api.deps import PrincipalDep, ReadsDep, SessionDep, SettingsDep
from api.errors import Problem
from api.pagination import LimitQuery
from api.routes import site_visits
from api.schemas.common import Page
from api.schemas.installation import (
    InstallationCancelBody,
    InstallationCommissioningBody,
    InstallationCreate,
    InstallationPublic,
    VisitBody,
    VisitReportBody,
)
from api.schemas.relocation import checklist_of
from db.queries import CaseBundle
from domain.contracts.facts import InstallationFacts, checklists_data, site_data, visit_data
from domain.ids import installation_workflow_id, new_case_id, new_tracking_token
from domain.installation import (
    DUPLICATE_OPEN_CASE,
    INSTALLATION_ACCEPT_UPDATE,
    INSTALLATION_BOOK_UPDATE,
    INSTALLATION_CANCEL_UPDATE,
    INSTALLATION_COMMISSION_UPDATE,
    INSTALLATION_VISIT_UPDATE,
    INSTALLATION_WORKFLOW,
    TRAINING_NOT_REPORTED,
    BookVisit,
    InstallationCancel,
    InstallationCommissioning,
    InstallationStart,
    InstallationStatus,
    InstallationView,
    VisitReport,
    allowed_actions,
)

router = APIRouter(prefix="/v1/installations", tags=["installations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InstallationPublic,
    summary="Order an installation (and, with `training`, a training session) from a provider",
)
async def create_installation(
    body: InstallationCreate, principal: PrincipalDep, commands: CommandsDep
) -> InstallationPublic:
    principal.require(OrgKind.RETAILER)
    session, settings = commands.session, commands.settings
    org_id = principal.owner_id
    product = (await catalog(session, org_id, {body.asset.sku}))[body.asset.sku]
    provider = await site_visits.provider_name(session, body.provider_org_id)
    installation_id, existing = await idempotency.claim_case(
        session,
        org_id,
        commands.key,
        body,
        "installation",
        new_case_id("INS", datetime.now(UTC).year),
    )
    if existing is not None:
        shown = await INSTALLATION_COMMANDS.view(commands, principal, existing.id)
        return _refused_if_duplicate(shown, body.asset.serial)
    # One open case per unit: refused here at once, and held by the database (the workflow
    # claims the unit as it records the case; a race lost is stored cancelled).
    await refuse_open_case(session, org_id, body.asset.serial, installation_id)
    terms = await retailer_terms(session, org_id)
    start = InstallationStart(
        installation_id=installation_id,
        org_id=org_id,
        org_name=terms.name,
        tracking_token=new_tracking_token(),
        provider_org_id=body.provider_org_id,
        provider_name=provider,
        sku=body.asset.sku,
        serial=body.asset.serial,
        product_name=product.name,
        site=body.site.to_domain(),
        customer=body.customer.to_domain(),
        training=body.training,
        policy=terms.policy,
        public_base_url=settings.public_base_url,
    )
    started = await INSTALLATION_COMMANDS.start(
        commands,
        principal,
        case_id=installation_id,
        workflow=INSTALLATION_WORKFLOW,
        argument=start,
        workflow_id=installation_workflow_id(installation_id),
        update=INSTALLATION_ACCEPT_UPDATE,
        pending_detail=f"installation {installation_id} was started but has not answered yet; "
        "retry with the same Idempotency-Key to get it",
    )
    return _refused_if_duplicate(started, body.asset.serial)


def _refused_if_duplicate(shown: InstallationPublic, serial: str) -> InstallationPublic:
    """An order that lost the race for its unit to another open case is a 409, as one
    refused before it started is (the case stays, cancelled, with its reason)."""
    if shown.reason == DUPLICATE_OPEN_CASE:
        raise Problem(
            409,
            DUPLICATE_OPEN_CASE,
            f"unit {serial} already has an open case",
            case_id=shown.id,
        )
    return shown


@router.get("", response_model=Page[InstallationPublic])
async def list_installations(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[InstallationStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[InstallationPublic]:
    """A retailer's installations, newest first; a provider's, oldest first."""
    status_value = status_filter.value if status_filter is not None else None
    bundles, next_cursor = await INSTALLATIONS.page(session, principal, status_value, cursor, limit)
    items = [INSTALLATION_COMMANDS.show(bundle, principal, settings) for bundle in bundles]
    return Page[InstallationPublic](items=items, next_cursor=next_cursor)


async def _installation(installation_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The installation for its retailer and its provider."""
    return INSTALLATIONS.ref(reads, principal, installation_id)


async def _worked_installation(
    installation_id: str, principal: PrincipalDep, reads: ReadsDep
) -> CaseRef:
    """The installation for a command only its provider gives."""
    return INSTALLATIONS.ref(reads, principal, installation_id, kinds=(OrgKind.REPAIR_CENTER,))


async def _own_installation(
    installation_id: str, principal: PrincipalDep, reads: ReadsDep
) -> CaseRef:
    """The installation for a command only its retailer gives."""
    return INSTALLATIONS.ref(reads, principal, installation_id, kinds=(OrgKind.RETAILER,))


Installation = Annotated[CaseRef, Depends(_installation)]
WorkedInstallation = Annotated[CaseRef, Depends(_worked_installation)]
OwnInstallation = Annotated[CaseRef, Depends(_own_installation)]


@router.get("/{installation_id}", response_model=InstallationPublic)
async def get_installation(installation: Installation, settings: SettingsDep) -> InstallationPublic:
    return await INSTALLATION_COMMANDS.detail(installation, settings)


@router.post("/{installation_id}/appointments", response_model=InstallationPublic)
async def book_appointment(
    body: VisitBody, installation: WorkedInstallation, commands: CommandsDep
) -> InstallationPublic:
    """Book the visit (or move it); the customer is reminded a day before."""
    await installation.open()  # another's installation is a 404 before the date is judged
    if body.starts_at <= datetime.now(UTC):
        raise Problem(422, "appointment_in_past", "an appointment must start in the future")
    request = BookVisit(installation.principal.actor(), body.starts_at, body.technician)
    return await INSTALLATION_COMMANDS.send(
        commands, installation, INSTALLATION_BOOK_UPDATE, request, body=body
    )


@router.post("/{installation_id}/status", response_model=InstallationPublic)
async def report_visit(
    body: VisitReportBody, installation: WorkedInstallation, commands: CommandsDep
) -> InstallationPublic:
    """`installed` with the checklist, or `missed` (back to scheduling)."""
    report = VisitReport(installation.principal.actor(), body.status, checklist_of(body.checklist))
    return await INSTALLATION_COMMANDS.send(
        commands, installation, INSTALLATION_VISIT_UPDATE, report, body=body
    )


@router.post("/{installation_id}/commissioning", response_model=InstallationPublic)
async def commission(
    body: InstallationCommissioningBody, installation: WorkedInstallation, commands: CommandsDep
) -> InstallationPublic:
    """Every item passed: completed, certificate issued, the asset stands at the site. Else
    it stays installed. When training was asked, `training_given` says whether it was."""
    case = (await installation.open()).case
    # Judged once commissioning is the next step (otherwise its refusal is the state's, 409).
    ready = case.status == InstallationStatus.INSTALLED
    if ready and InstallationFacts.from_data(case.data).training and body.training_given is None:
        raise Problem(
            422,
            TRAINING_NOT_REPORTED,
            "training was asked for this installation: say whether it was given (training_given)",
        )
    request = InstallationCommissioning(
        installation.principal.actor(), checklist_of(body.checklist), body.training_given
    )
    return await INSTALLATION_COMMANDS.send(
        commands, installation, INSTALLATION_COMMISSION_UPDATE, request, body=body
    )


@router.post("/{installation_id}/cancel", response_model=InstallationPublic)
async def cancel_installation(
    installation: OwnInstallation,
    commands: CommandsDep,
    body: InstallationCancelBody | None = None,
) -> InstallationPublic:
    """The retailer cancels until the equipment is installed."""
    request = InstallationCancel(installation.principal.actor(), body.reason if body else "")
    return await INSTALLATION_COMMANDS.send(
        commands, installation, INSTALLATION_CANCEL_UPDATE, request, body=body
    )


# ------------------------------------------------------------------------ helpers


def installation_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> InstallationPublic:
    """An installation as `viewer` sees it: the provider without the tracking token, and the
    customer as name and address only (api.md "A case is shown per viewer")."""
    case = bundle.case
    facts = InstallationFacts.from_data(case.data)
    return InstallationPublic(
        id=case.id,
        status=case.status,
        reason=case.reason,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        asset=facts.asset.to_data(),
        asset_id=facts.asset_id or None,
        provider_org_id=facts.provider_org_id,
        site=site_data(facts.site),
        training=facts.training,
        training_given=facts.training_given,
        appointment=None if facts.appointment is None else visit_data(facts.appointment),
        reschedules_used=facts.reschedules_used,
        max_reschedules=facts.max_reschedules,
        checklists=checklists_data(facts.checklists),
        customer=viewer.customer(bundle.customer),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle, viewer),
    )


INSTALLATIONS = CaseResource(
    "installation", "installation", Partner.RECEIVER, partner_lists=True, partner_queue=True
)
# Also how the customer asks to reschedule (api.routes.tracking): one command path.
INSTALLATION_COMMANDS = CaseCommands(
    InstallationView,
    lambda status: allowed_actions(InstallationStatus(status)),
    installation_public,
    InstallationPublic,
)
