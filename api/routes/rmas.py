"""Return merchandise authorizations: create (with the decision), list, detail, commands."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api import idempotency
from api.auth import OrgKind, Principal
from api.case_access import CaseRef, CaseResource, Partner
from api.case_views import rma_public
from api.catalog import Product, catalog, retailer_terms
from api.commands import CaseCommands, Commands, CommandsDep
from api.deps import AsyncSession, PrincipalDep, ReadsDep, SessionDep, SettingsDep
from api.errors import Problem, forbidden
from api.pagination import LimitQuery
from api.schemas.common import Page
from api.schemas.rma import (
    CancelBody,
    InspectionBody,
    ReceiveBody,
    RejectBody,
    RmaCreate,
    RmaPublic,
    WaiveFeeBody,
)
from api.schemas.shipping import RetryShippingBody
from api.shipping_retry import retry_shipping
from db.queries import serials_held
from domain.common import Actor
from domain.ids import new_case_id, new_tracking_token, rma_workflow_id
from domain.rma import (
    ALLOWED_ACTIONS,
    ALREADY_INSPECTED,
    AUTHORIZE_UPDATE,
    CANCEL_UPDATE,
    INSPECT_UPDATE,
    RECEIVE_UPDATE,
    REVIEW_UPDATE,
    RMA_WORKFLOW,
    WAIVE_FEE_UPDATE,
    CancelRequest,
    FeeWaiver,
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
async def create_rma(body: RmaCreate, principal: PrincipalDep, commands: CommandsDep) -> RmaPublic:
    principal.require(OrgKind.RETAILER)
    return await start_rma(commands, principal, body)


async def start_rma(
    commands: Commands, principal: Principal, body: RmaCreate, created_by: Actor | None = None
) -> RmaPublic:
    """Authorize and start a return for the principal's organisation: the one way an RMA
    starts, from a retailer's key or console user or (`created_by` the customer) the return
    portal. Goodwill (`override`) is the retailer's alone."""
    session, settings = commands.session, commands.settings
    org_id = principal.owner_id
    if body.override is not None and created_by is not None:
        raise forbidden("only the retailer may accept a return as goodwill")
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
    skus = {item.sku for item in body.items}
    products = await commands.reads(lambda reads: catalog(reads, org_id, skus))

    rma_id, existing = await idempotency.claim_case(
        session, org_id, commands.key, body, "rma", new_case_id("RMA", now.year)
    )
    if existing is not None:
        return await _rmas.view(commands, principal, existing.id)

    start = await commands.reads(
        lambda reads: _start_input(reads, settings, principal, body, products, rma_id)
    )
    # A console user's name goes on the first entry; a key's start stays as it always was.
    start.created_by = created_by or (principal.actor() if principal.user else None)
    start.goodwill_reason = body.override.reason if body.override is not None else ""
    return await _rmas.start(
        commands,
        principal,
        case_id=rma_id,
        workflow=RMA_WORKFLOW,
        argument=start,
        workflow_id=rma_workflow_id(rma_id),
        update=AUTHORIZE_UPDATE,
        pending_detail=f"RMA {rma_id} was started but no worker has decided it yet; "
        "retry with the same Idempotency-Key to get the decision",
    )


@router.get("", response_model=Page[RmaPublic])
async def list_rmas(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[RmaStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[RmaPublic]:
    """A retailer's RMAs, and a repair center's (those sent to it), newest first."""
    status_value = status_filter.value if status_filter is not None else None
    bundles, next_cursor = await RMAS.page(session, principal, status_value, cursor, limit)
    items = [_rmas.show(bundle, principal, settings) for bundle in bundles]
    return Page[RmaPublic](items=items, next_cursor=next_cursor)


async def _rma(rma_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The RMA for its retailer and the repair center it is sent to."""
    return RMAS.ref(reads, principal, rma_id)


async def _own_rma(rma_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """The RMA for a command only its retailer gives (the center sees it: 403, not 404)."""
    return RMAS.ref(reads, principal, rma_id, owner_only=True)


Rma = Annotated[CaseRef, Depends(_rma)]
OwnRma = Annotated[CaseRef, Depends(_own_rma)]


@router.get("/{rma_id}", response_model=RmaPublic)
async def get_rma(rma: Rma, settings: SettingsDep) -> RmaPublic:
    return await _rmas.detail(rma, settings)


@router.post("/{rma_id}/approve", response_model=RmaPublic)
async def approve_rma(rma: OwnRma, commands: CommandsDep) -> RmaPublic:
    decision = ReviewDecision(actor=rma.principal.actor(), approve=True)
    return await _rmas.send(commands, rma, REVIEW_UPDATE, decision, "approve")


@router.post("/{rma_id}/reject", response_model=RmaPublic)
async def reject_rma(body: RejectBody, rma: OwnRma, commands: CommandsDep) -> RmaPublic:
    decision = ReviewDecision(actor=rma.principal.actor(), approve=False, reason=body.reason)
    return await _rmas.send(commands, rma, REVIEW_UPDATE, decision, "reject", body=body)


@router.post("/{rma_id}/cancel", response_model=RmaPublic)
async def cancel_rma(
    rma: OwnRma, commands: CommandsDep, body: CancelBody | None = None
) -> RmaPublic:
    request = CancelRequest(actor=rma.principal.actor(), reason=body.reason if body else "")
    return await _rmas.send(commands, rma, CANCEL_UPDATE, request, "cancel", body=body)


@router.post("/{rma_id}/waive-restocking-fee", response_model=RmaPublic)
async def waive_restocking_fee(body: WaiveFeeBody, rma: OwnRma, commands: CommandsDep) -> RmaPublic:
    """Waive the restocking fee before inspection: a grade B refund is then in full. After
    inspection it is 409 `already_inspected`; a second waiver 409 `fee_already_waived`."""
    waiver = FeeWaiver(actor=rma.principal.actor(), reason=body.reason)
    try:
        return await _rmas.send(
            commands, rma, WAIVE_FEE_UPDATE, waiver, "waive_restocking_fee", body=body
        )
    except Problem as problem:
        # A return that has ended was inspected (every way to `completed` passes inspection),
        # and its ended workflow can no longer say so itself.
        inspected = problem.extra.get("current_status") in _INSPECTED
        if problem.code == "invalid_transition" and inspected:
            raise Problem(
                409, ALREADY_INSPECTED, "the RMA is inspected: its refund is settled"
            ) from problem
        raise


_INSPECTED = frozenset({RmaStatus.RESOLVING.value, RmaStatus.COMPLETED.value})


@router.post("/{rma_id}/retry-shipping", response_model=RmaPublic)
async def retry_rma_shipping(
    rma: OwnRma, commands: CommandsDep, body: RetryShippingBody | None = None
) -> RmaPublic:
    """Book again a parcel the carrier refused (`carrier_error`), with the customer's
    address corrected if `address` is given."""
    return await retry_shipping(_rmas, commands, rma, body)


@router.post("/{rma_id}/receive", response_model=RmaPublic)
async def receive_rma(
    rma: Rma, commands: CommandsDep, body: ReceiveBody | None = None
) -> RmaPublic:
    request = ReceiveRequest(actor=rma.principal.actor(), note=body.note if body else "")
    return await _rmas.send(commands, rma, RECEIVE_UPDATE, request, "receive", body=body)


@router.post("/{rma_id}/inspection", response_model=RmaPublic)
async def inspect_rma(body: InspectionBody, rma: Rma, commands: CommandsDep) -> RmaPublic:
    request = InspectionRequest(
        actor=rma.principal.actor(),
        grade=body.grade,
        serial_matches=body.serial_matches,
        notes=body.notes,
    )
    return await _rmas.send(commands, rma, INSPECT_UPDATE, request, "inspection", body=body)


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
    terms = await retailer_terms(session, org_id)
    serials = [item.serial for item in body.items]
    in_open_cases, with_active_plans = await serials_held(session, org_id, serials, rma_id)
    return RmaStart(
        rma_id=rma_id,
        org_id=org_id,
        org_name=terms.name,
        tracking_token=new_tracking_token(),
        order_ref=body.order_ref,
        payment_reference=body.payment_reference,
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
        policy=terms.policy,
        public_base_url=settings.public_base_url,
        serials_with_open_cases=in_open_cases,
        serials_with_active_plans=with_active_plans,
        repair_tracking_token=new_tracking_token(),
        replacement_tracking_token=new_tracking_token(),
    )


RMAS = CaseResource("rma", "RMA", Partner.RECEIVER, partner_lists=True)
_rmas = CaseCommands(
    RmaView, lambda status: ALLOWED_ACTIONS[RmaStatus(status)], rma_public, RmaPublic
)
