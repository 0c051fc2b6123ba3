"""Campaigns: a message (a recall, a service offer) to every known owner of matching units,
sent by its workflow at a steady pace; its counts as it goes; cancel stops what is left."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import idempotency
from api.auth import OrgKind, Principal
from api.catalog import catalog
from api.deps import AsyncSession, PrincipalDep, SessionDep, SettingsDep, TemporalDep
from api.errors import invalid_transition, not_found, temporal_unavailable
from api.idempotency import IdempotencyKey
from api.pagination import LimitQuery, decode_keys, decode_time, encode_keys
from api.schemas.campaigns import CampaignCreate, CampaignCreated, CampaignPublic
from api.schemas.common import Page
from db import models
from db.campaigns import (
    CampaignCounts,
    Matching,
    campaign_counts,
    campaign_of,
    campaign_page,
    cancel_campaign,
    count_owners,
    counts_of,
    create_campaign,
)
from domain.campaign import (
    CAMPAIGN_CANCEL_SIGNAL,
    CAMPAIGN_WORKFLOW,
    CampaignStart,
    CampaignStatus,
    campaign_workflow_id,
)
from domain.common import WORKFLOW_TASK_TIMEOUT, start_memo
from settings import Settings

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignCreated)
async def create(
    body: CampaignCreate,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CampaignCreated:
    """Counts the known owners of the matching units (customer and serial pairs, from
    orders and every case) and starts sending; the same Idempotency-Key answers the same
    campaign."""
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    await catalog(session, org_id, {body.sku})
    campaign_id = models.new_id()
    if idempotency_key is not None:
        campaign_id = await idempotency.claim(
            session,
            org_id,
            idempotency_key,
            idempotency.request_hash(body.model_dump(mode="json")),
            "campaign",
            campaign_id,
        )
    campaign = await campaign_of(session, org_id, campaign_id)
    if campaign is None:
        matching = Matching(
            org_id, body.sku, body.serial_prefix, body.purchased_from, body.purchased_to
        )
        campaign = await create_campaign(
            session,
            models.Campaign(
                id=campaign_id,
                org_id=org_id,
                name=body.name,
                sku=body.sku,
                serial_prefix=body.serial_prefix,
                purchased_from=body.purchased_from,
                purchased_to=body.purchased_to,
                subject=body.subject,
                message=body.message,
                offer=body.offer.value,
                status=CampaignStatus.RUNNING.value,
                recipients=await count_owners(session, matching),
            ),
        )
    await _start(client, settings, campaign)
    counts = await campaign_counts(session, campaign)
    return CampaignCreated(id=campaign.id, status=campaign.status, recipients=counts.recipients)


@router.get("", response_model=Page[CampaignPublic])
async def list_campaigns(
    principal: PrincipalDep,
    session: SessionDep,
    status_filter: Annotated[CampaignStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[CampaignPublic]:
    """The retailer's campaigns, newest first, with their counts as they stand."""
    principal.require(OrgKind.RETAILER)
    before = None
    if cursor:
        created, campaign_id = decode_keys(cursor, 2)
        before = (decode_time(created), campaign_id)
    wanted = status_filter.value if status_filter is not None else None
    rows = await campaign_page(session, principal.owner_id, wanted, before, limit + 1)
    page = rows[:limit]
    counts = await counts_of(session, page)
    last = page[-1] if len(rows) > limit else None
    return Page[CampaignPublic](
        items=[_public_of(c, counts[c.id]) for c in page],
        next_cursor=encode_keys(last.created_at.isoformat(), last.id) if last else None,
    )


@router.get("/{campaign_id}", response_model=CampaignPublic)
async def show(campaign_id: str, principal: PrincipalDep, session: SessionDep) -> CampaignPublic:
    return await _public(session, await _own(session, principal, campaign_id))


@router.post("/{campaign_id}/cancel", response_model=CampaignPublic)
async def cancel(
    campaign_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    client: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CampaignPublic:
    """Stop sending (what was sent stays sent). Cancelling again answers the cancelled
    campaign; a completed one is 409 `invalid_transition`. `Idempotency-Key` is accepted:
    the command has one effect whatever its repeats."""
    campaign = await _own(session, principal, campaign_id)
    if campaign.status == CampaignStatus.COMPLETED:
        raise invalid_transition("the campaign has completed", campaign.status, [])
    await cancel_campaign(session, campaign)
    try:
        await client.get_workflow_handle(campaign_workflow_id(campaign.id)).signal(
            CAMPAIGN_CANCEL_SIGNAL
        )
    except RPCError as exc:
        # Ended already: the status written above is what its last page read.
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise temporal_unavailable() from exc
    campaign = await _own(session, principal, campaign_id)
    if campaign.status == CampaignStatus.COMPLETED:
        raise invalid_transition("the campaign has completed", campaign.status, [])
    return await _public(session, campaign)


async def _start(client: Client, settings: Settings, campaign: models.Campaign) -> None:
    """Start its workflow, once: a retry finds it running (or ended) and starts nothing."""
    try:
        await client.start_workflow(
            CAMPAIGN_WORKFLOW,
            CampaignStart(campaign.id, campaign.org_id),
            id=campaign_workflow_id(campaign.id),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            task_timeout=WORKFLOW_TASK_TIMEOUT,
            memo=start_memo(),
        )
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as exc:
        raise temporal_unavailable() from exc


async def _own(session: AsyncSession, principal: Principal, campaign_id: str) -> models.Campaign:
    principal.require(OrgKind.RETAILER)
    campaign = await campaign_of(session, principal.owner_id, campaign_id)
    if campaign is None:
        raise not_found("campaign")
    return campaign


async def _public(session: AsyncSession, campaign: models.Campaign) -> CampaignPublic:
    return _public_of(campaign, await campaign_counts(session, campaign))


def _public_of(campaign: models.Campaign, counts: CampaignCounts) -> CampaignPublic:
    return CampaignPublic(
        id=campaign.id,
        name=campaign.name,
        sku=campaign.sku,
        offer=campaign.offer,
        status=campaign.status,
        recipients=counts.recipients,
        sent=counts.sent,
        responses=counts.responses,
        created_at=campaign.created_at,
        finished_at=campaign.finished_at,
    )
