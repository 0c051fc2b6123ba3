"""Replacements: standard or advance (ship first, deposit hold, core return)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api import idempotency
from api.auth import OrgKind, Principal
from api.case_access import CaseRef, CaseResource, Partner
from api.case_views import replacement_public
from api.catalog import catalog, refuse_open_case, retailer_terms
from api.commands import CaseCommands, Commands, CommandsDep
from api.deps import PrincipalDep, ReadsDep, SessionDep, SettingsDep
from api.errors import Problem
from api.pagination import LimitQuery
from api.schemas.common import Page
from api.schemas.replacement import (
    CoreReceivedBody,
    ReplacementCancelBody,
    ReplacementCreate,
    ReplacementPublic,
)
from api.schemas.shipping import RetryShippingBody
from api.shipping_retry import retry_shipping
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
    body: ReplacementCreate, principal: PrincipalDep, commands: CommandsDep
) -> ReplacementPublic:
    return await start_replacement(body, principal, commands)


async def start_replacement(
    body: ReplacementCreate,
    principal: Principal,
    commands: Commands,
    coverage: str | None = None,
) -> ReplacementPublic:
    """`POST /v1/replacements`'s start, for the other ways a replacement begins (a
    campaign's offer, with its `coverage`)."""
    principal.require(OrgKind.RETAILER)
    session, settings = commands.session, commands.settings
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
        commands.key,
        body,
        "replacement",
        new_case_id("RPL", datetime.now(UTC).year),
    )
    if existing is not None:
        return await _replacements.view(commands, principal, existing.id)
    await refuse_open_case(session, org_id, body.unit.serial, replacement_id)
    terms = await retailer_terms(session, org_id)
    start = ReplacementStart(
        replacement_id=replacement_id,
        org_id=org_id,
        org_name=terms.name,
        tracking_token=new_tracking_token(),
        mode=body.mode,
        sku=body.unit.sku,
        serial=body.unit.serial,
        replacement_sku=replacement_sku,
        replacement_name=product.name,
        unit_price=product.unit_price,
        customer=body.customer.to_domain(),
        payment_method=body.payment_method or "original",
        policy=terms.policy,
        public_base_url=settings.public_base_url,
        coverage=coverage,
    )
    return await _replacements.start(
        commands,
        principal,
        case_id=replacement_id,
        workflow=REPLACEMENT_WORKFLOW,
        argument=start,
        workflow_id=replacement_workflow_id(replacement_id),
        update=REPLACEMENT_ACCEPT_UPDATE,
        pending_detail=f"replacement {replacement_id} was started but has not answered yet; "
        "retry with the same Idempotency-Key to get it",
    )


@router.get("", response_model=Page[ReplacementPublic])
async def list_replacements(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[ReplacementStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[ReplacementPublic]:
    status_value = status_filter.value if status_filter is not None else None
    bundles, next_cursor = await REPLACEMENTS.page(session, principal, status_value, cursor, limit)
    items = [_replacements.show(bundle, principal, settings) for bundle in bundles]
    return Page[ReplacementPublic](items=items, next_cursor=next_cursor)


async def _replacement(replacement_id: str, principal: PrincipalDep, reads: ReadsDep) -> CaseRef:
    """Its retailer's; and the repair center's whose job ended in it (which may report its
    core received), shown it as the worker."""
    return REPLACEMENTS.ref(reads, principal, replacement_id)


async def _own_replacement(
    replacement_id: str, principal: PrincipalDep, reads: ReadsDep
) -> CaseRef:
    return REPLACEMENTS.ref(reads, principal, replacement_id, kinds=(OrgKind.RETAILER,))


Replacement = Annotated[CaseRef, Depends(_replacement)]
OwnReplacement = Annotated[CaseRef, Depends(_own_replacement)]


@router.get("/{replacement_id}", response_model=ReplacementPublic)
async def get_replacement(replacement: Replacement, settings: SettingsDep) -> ReplacementPublic:
    return await _replacements.detail(replacement, settings)


@router.post("/{replacement_id}/core-received", response_model=ReplacementPublic)
async def core_received(
    replacement: Replacement, commands: CommandsDep, body: CoreReceivedBody | None = None
) -> ReplacementPublic:
    """The defective core is back: the deposit hold is released and the case completes."""
    request = CoreReceived(actor=replacement.principal.actor(), note=body.note if body else "")
    return await _replacements.send(commands, replacement, CORE_RECEIVED_UPDATE, request, body=body)


@router.post("/{replacement_id}/retry-shipping", response_model=ReplacementPublic)
async def retry_replacement_shipping(
    replacement: OwnReplacement, commands: CommandsDep, body: RetryShippingBody | None = None
) -> ReplacementPublic:
    """Book again a parcel the carrier refused (`carrier_error`), with the customer's
    address corrected if `address` is given."""
    return await retry_shipping(_replacements, commands, replacement, body)


@router.post("/{replacement_id}/cancel", response_model=ReplacementPublic)
async def cancel_replacement(
    replacement: OwnReplacement,
    commands: CommandsDep,
    body: ReplacementCancelBody | None = None,
) -> ReplacementPublic:
    """Before shipping: releases the reservation and any hold, voids labels."""
    request = ReplacementCancel(
        actor=replacement.principal.actor(), reason=body.reason if body else ""
    )
    return await _replacements.send(
        commands, replacement, REPLACEMENT_CANCEL_UPDATE, request, body=body
    )


REPLACEMENTS = CaseResource("replacement", "replacement", Partner.REPAIRER)
_replacements = CaseCommands(
    ReplacementView,
    lambda status: ALLOWED_ACTIONS[ReplacementStatus(status)],
    replacement_public,
    ReplacementPublic,
)
