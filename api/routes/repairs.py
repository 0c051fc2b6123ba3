"""Repair jobs: direct creation by a retailer, the center's queue, and its commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api import idempotency
from api.auth import OrgKind
from api.case_access import CaseRef, CaseResource, Partner
from api.case_views import repair_public
from api.catalog import catalog, refuse_open_case
from api.commands import CaseCommands, CommandsDep
from api.deps import PrincipalDep, ReadsDep, SessionDep, SettingsDep
from api.errors import Problem, invalid_amount
from api.pagination import LimitQuery
from api.schemas.common import AmountError, Page, check_amount
from api.schemas.repair import (
    DiagnosisBody,
    QaBody,
    RepairCancelBody,
    RepairCreate,
    RepairPublic,
    StatusBody,
)
from api.schemas.setup import PolicyDocument
from api.schemas.shipping import RetryShippingBody
from api.shipping_retry import retry_shipping
from db.organisations import organisation
from db.policies import policy_document
from db.repair_centers import route_job
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
    body: RepairCreate, principal: PrincipalDep, commands: CommandsDep
) -> RepairPublic:
    principal.require(OrgKind.RETAILER)
    session, settings = commands.session, commands.settings
    org_id = principal.owner_id
    now = datetime.now(UTC)
    if body.unit.purchased_at > now:
        raise Problem(422, "invalid_purchase_date", "the purchase date is in the future")
    product = (await catalog(session, org_id, {body.unit.sku}))[body.unit.sku]

    repair_id, existing = await idempotency.claim_case(
        session, org_id, commands.key, body, "repair", new_case_id("REP", now.year)
    )
    if existing is not None:
        return await REPAIR_COMMANDS.view(commands, principal, existing.id)
    await refuse_open_case(session, org_id, body.unit.serial, repair_id)

    org = await organisation(session, org_id)
    assert org is not None
    policy = PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()
    coverage = body.coverage
    if coverage is None:
        in_warranty = now < add_months(body.unit.purchased_at, product.warranty_months)
        coverage = RepairCoverage.WARRANTY if in_warranty else RepairCoverage.PAID
    customer = body.customer.to_domain()
    # Routed here, where the read model is at hand: the workflow routes only a job that
    # arrives without a center (a local activity, a marker and a workflow activation less
    # per job). A job no center fits is routed again by its workflow, and found unroutable.
    country = customer.address.country if customer.address else ""
    center = await route_job(session, product.category, country, org_id)
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
        center=center,
        # A direct repair: the customer sends the unit to the center on our label.
        unit_origin=customer.address,
        replacement_tracking_token=new_tracking_token(),
    )
    return await REPAIR_COMMANDS.start(
        commands,
        principal,
        case_id=repair_id,
        workflow=REPAIR_WORKFLOW,
        argument=start,
        workflow_id=repair_workflow_id(repair_id),
        update=ACCEPT_UPDATE,
        pending_detail=f"repair {repair_id} was started but no worker has routed it yet; "
        "retry with the same Idempotency-Key to get it",
    )


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
    status_value = status_filter.value if status_filter is not None else None
    bundles, next_cursor = await REPAIRS.page(session, principal, status_value, cursor, limit)
    items = [REPAIR_COMMANDS.show(bundle, principal, settings) for bundle in bundles]
    return Page[RepairPublic](items=items, next_cursor=next_cursor)


async def _repair(repair_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The job for its retailer and its assigned center."""
    return REPAIRS.ref(reads, principal, repair_id)


async def _worked_repair(repair_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The job for a command only its assigned center gives."""
    return REPAIRS.ref(reads, principal, repair_id, kinds=(OrgKind.REPAIR_CENTER,))


async def _own_repair(repair_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The job for a command only its retailer gives."""
    return REPAIRS.ref(reads, principal, repair_id, kinds=(OrgKind.RETAILER,))


Repair = Annotated[CaseRef, Depends(_repair)]
WorkedRepair = Annotated[CaseRef, Depends(_worked_repair)]
OwnRepair = Annotated[CaseRef, Depends(_own_repair)]


@router.get("/{repair_id}", response_model=RepairPublic)
async def get_repair(repair: Repair, settings: SettingsDep) -> RepairPublic:
    return await REPAIR_COMMANDS.detail(repair, settings)


@router.post("/{repair_id}/retry-shipping", response_model=RepairPublic)
async def retry_repair_shipping(
    repair: OwnRepair, commands: CommandsDep, body: RetryShippingBody | None = None
) -> RepairPublic:
    """Book again a parcel the carrier refused (`carrier_error`), with the customer's
    address corrected if `address` is given."""
    return await retry_shipping(REPAIR_COMMANDS, commands, repair, body)


@router.post("/{repair_id}/status", response_model=RepairPublic)
async def report_status(
    body: StatusBody, repair: WorkedRepair, commands: CommandsDep
) -> RepairPublic:
    """`received`, `diagnosing`, `repairing` (parts in) or `quality_check`."""
    change = StatusChange(actor=repair.principal.actor(), status=body.status, note=body.note)
    return await REPAIR_COMMANDS.send(commands, repair, STATUS_UPDATE, change, body=body)


@router.post("/{repair_id}/diagnosis", response_model=RepairPublic)
async def diagnose(
    body: DiagnosisBody, repair: WorkedRepair, commands: CommandsDep
) -> RepairPublic:
    # The parts are priced in the case's currency: a JPY repair's parts have no decimals.
    currency = (await repair.open()).case.currency
    try:
        prices = [
            check_amount(("parts", n, "unit_price"), p.unit_price, currency)
            for n, p in enumerate(body.parts)
        ]
    except AmountError as exc:
        raise invalid_amount(exc.field, exc) from exc
    diagnosis = Diagnosis(
        actor=repair.principal.actor(),
        fault_code=body.fault_code,
        findings=body.findings,
        parts=[
            Part(
                part_no=p.part_no,
                description=p.description,
                quantity=p.quantity,
                unit_price=price,
            )
            for p, price in zip(body.parts, prices, strict=True)
        ],
        labor_minutes=body.labor_minutes,
        repairable=body.repairable,
    )
    return await REPAIR_COMMANDS.send(commands, repair, DIAGNOSIS_UPDATE, diagnosis, body=body)


@router.post("/{repair_id}/qa", response_model=RepairPublic)
async def quality_check(body: QaBody, repair: WorkedRepair, commands: CommandsDep) -> RepairPublic:
    report = QaReport(actor=repair.principal.actor(), passed=body.passed, notes=body.notes)
    return await REPAIR_COMMANDS.send(commands, repair, QA_UPDATE, report, body=body)


@router.post("/{repair_id}/cancel", response_model=RepairPublic)
async def cancel_repair(
    repair: OwnRepair, commands: CommandsDep, body: RepairCancelBody | None = None
) -> RepairPublic:
    """The owning retailer cancels, until the repair has started (`repairing`)."""
    request = RepairCancel(actor=repair.principal.actor(), reason=body.reason if body else "")
    return await REPAIR_COMMANDS.send(commands, repair, REPAIR_CANCEL_UPDATE, request, body=body)


# ------------------------------------------------------------------------ helpers


REPAIRS = CaseResource("repair", "repair", Partner.RECEIVER, partner_lists=True, partner_queue=True)
# Also how the customer answers a quote (api.routes.tracking): one command path.
REPAIR_COMMANDS = CaseCommands(
    RepairView, lambda status: allowed_next(RepairStatus(status)), repair_public, RepairPublic
)
