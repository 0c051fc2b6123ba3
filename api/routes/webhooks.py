"""Webhook subscriptions (`POST /v1/webhooks`) and their delivery log."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError

from api.auth import OrgKind, Principal
from api.deps import PrincipalDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, not_found, temporal_unavailable
from api.idempotency import IdempotencyKey, request_hash, reserve
from api.pagination import LimitQuery, decode_keys, decode_time, encode_keys, invalid_cursor
from api.schemas.common import Page, QueryText
from api.schemas.webhooks import (
    AttemptOut,
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookSecret,
)
from db import models
from db.models import new_id
from db.organisations import lock_organisation
from db.outbox import webhook_queue
from db.types import utcnow
from domain.delivery import (
    DeliveryQueueStart,
    QueuedDelivery,
)
from domain.webhook_targets import REFUSED, TargetRefused, resolve_host, vetted_addresses
from temporal_client import enqueue_delivery

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

SUBSCRIBERS = (OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
DELIVERY_STATUSES = ("pending", "delivered", "failed")


# After a rotation the old secret keeps signing for this long beside the new one.
ROTATION_OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    """`whsec_` and standard base64 of 32 random bytes: the form every Standard Webhooks
    library decodes to the same key (URL-safe base64 is read differently by some)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _public(sub: models.WebhookSubscription) -> WebhookPublic:
    return WebhookPublic(
        id=sub.id,
        url=sub.url,
        events=list(sub.events),
        created_at=sub.created_at,
        disabled_at=sub.disabled_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
async def subscribe(
    body: WebhookCreate,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> WebhookCreated:
    """Events of the organisation's own cases (and, for a repair center, of the repair jobs
    and relocations it works) go to `url`, signed with the returned `secret`."""
    principal.require(*SUBSCRIBERS)
    if not settings.webhook_allow_private_targets:
        try:
            await vetted_addresses(body.url.host or "", resolve_host, allow_private=False)
        except TargetRefused as exc:
            raise Problem(422, "webhook_target_not_public", REFUSED) from exc
        except OSError:
            pass  # no answer today: every attempt resolves and checks again
    org_id = principal.owner_id
    # One subscription write at a time per organisation: the quota count and the insert,
    # and a retry with the same key and its first request, cannot interleave.
    await lock_organisation(session, org_id)
    sub_id = new_id()
    if idempotency_key is not None:
        first = await reserve(
            session,
            org_id,
            idempotency_key,
            request_hash(body.model_dump(mode="json")),
            "webhook",
            sub_id,
        )
        if first is not None:
            await session.rollback()
            existing = await session.get(models.WebhookSubscription, first)
            assert existing is not None  # committed with its key
            return WebhookCreated(**_public(existing).model_dump(), secret=existing.secret)
    active = await session.scalar(
        select(func.count())
        .select_from(models.WebhookSubscription)
        .where(
            models.WebhookSubscription.org_id == org_id,
            models.WebhookSubscription.disabled_at.is_(None),
        )
    )
    if (active or 0) >= settings.webhook_quota:
        await session.rollback()
        raise Problem(
            409,
            "webhook_quota_exceeded",
            f"an organisation has at most {settings.webhook_quota} active webhooks; "
            "delete one first",
            quota=settings.webhook_quota,
        )
    sub = models.WebhookSubscription(
        id=sub_id,
        org_id=org_id,
        url=str(body.url),
        events=body.events,
        secret=new_secret(),
    )
    session.add(sub)
    await session.commit()
    return WebhookCreated(**_public(sub).model_dump(), secret=sub.secret)


@router.get("", response_model=Page[WebhookPublic])
async def list_subscriptions(principal: PrincipalDep, session: SessionDep) -> Page[WebhookPublic]:
    principal.require(*SUBSCRIBERS)
    subs = await session.scalars(
        select(models.WebhookSubscription)
        .where(models.WebhookSubscription.org_id == principal.owner_id)
        .order_by(models.WebhookSubscription.created_at, models.WebhookSubscription.id)
    )
    return Page(items=[_public(s) for s in subs])


@router.get("/{webhook_id}", response_model=WebhookPublic)
async def get_subscription(
    webhook_id: str, principal: PrincipalDep, session: SessionDep
) -> WebhookPublic:
    return _public(await _owned(session, principal, webhook_id))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe(webhook_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    """Stop sending: new events are no longer queued, and queued ones end as failed."""
    sub = await _owned(session, principal, webhook_id)
    if sub.disabled_at is None:
        sub.disabled_at = utcnow()
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookSecret)
async def rotate_secret(
    webhook_id: str, principal: PrincipalDep, session: SessionDep
) -> WebhookSecret:
    """A new signing secret. For 24 hours deliveries carry signatures with both the new and
    the old one, so the receiver can switch at its own pace; a second rotation within the
    day retires the oldest at once."""
    sub = await _owned(session, principal, webhook_id)
    await session.refresh(sub, with_for_update=True)
    sub.previous_secret = sub.secret
    sub.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    sub.secret = new_secret()
    await session.commit()
    return WebhookSecret(
        secret=sub.secret, previous_secret_expires_at=sub.previous_secret_expires_at
    )


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
async def deliveries(
    webhook_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: str | None = None,
    status_filter: Annotated[QueryText | None, Query(alias="status")] = None,
    case_id: QueryText | None = None,
) -> Page[DeliveryOut]:
    """Every delivery, newest first, with each attempt's answer (`status_code`, or the
    connection `error`) and how long it took."""
    sub = await _owned(session, principal, webhook_id)
    if status_filter is not None and status_filter not in DELIVERY_STATUSES:
        raise Problem(
            422, "validation_error", f"status must be one of {', '.join(DELIVERY_STATUSES)}"
        )
    D = models.WebhookDelivery
    query = select(D).where(D.subscription_id == sub.id)
    if status_filter:
        query = query.where(D.status == status_filter)
    if case_id:
        query = query.where(D.case_id == case_id)
    # Newest first; a case's events share timestamps, so its sequence breaks the tie.
    key = tuple_(D.created_at, D.seq, D.id)
    if cursor:
        created, seq, after = decode_keys(cursor, 3)
        # A sequence number is a few digits; more would overflow the integer column.
        if not (seq.isascii() and seq.isdigit() and len(seq) <= 9):
            raise invalid_cursor()
        query = query.where(key < tuple_(decode_time(created), int(seq), after))
    rows = list(
        await session.scalars(
            query.order_by(D.created_at.desc(), D.seq.desc(), D.id.desc()).limit(limit + 1)
        )
    )
    page, more = rows[:limit], len(rows) > limit
    return Page(
        items=await _deliveries_out(session, page),
        next_cursor=_cursor(page[-1]) if more else None,
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
)
async def redeliver(
    webhook_id: str,
    delivery_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> DeliveryOut:
    """Send an event again (after a receiver came back from a long outage, or lost what it
    had): the delivery is pending again, with a fresh retry window, in its case's queue."""
    sub = await _owned(session, principal, webhook_id)
    if sub.disabled_at is not None:
        raise Problem(409, "webhook_disabled", "this subscription no longer sends events")
    delivery = await session.get(models.WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.subscription_id != sub.id:
        raise not_found("delivery")
    if delivery.status == "pending":
        raise Problem(409, "delivery_pending", "this delivery is still being attempted")
    before = (delivery.status, delivery.delivered_at, delivery.failed_at)
    delivery.status, delivery.delivered_at, delivery.failed_at = "pending", None, None
    delivery.redeliveries += 1
    await session.commit()
    queued = QueuedDelivery(delivery.id, delivery.seq, utcnow(), delivery.redeliveries)
    try:
        await enqueue_delivery(
            client,
            settings.task_queue,
            webhook_queue(sub.id, delivery.case_id),
            DeliveryQueueStart(
                "webhook", settings.delivery_retry_window, settings.delivery_first_retry
            ),
            queued,
        )
    except RPCError as exc:
        # Not queued: put it back as it was, so what the log says stays true.
        delivery.status, delivery.delivered_at, delivery.failed_at = before
        delivery.redeliveries -= 1
        await session.commit()
        raise temporal_unavailable() from exc
    (out,) = await _deliveries_out(session, [delivery])
    return out


async def _deliveries_out(
    session: AsyncSession, deliveries: list[models.WebhookDelivery]
) -> list[DeliveryOut]:
    attempts: dict[str, list[AttemptOut]] = {d.id: [] for d in deliveries}
    if deliveries:
        for attempt in await session.scalars(
            select(models.WebhookAttempt)
            .where(models.WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(models.WebhookAttempt.delivery_id, models.WebhookAttempt.number)
        ):
            attempts[attempt.delivery_id].append(
                AttemptOut(
                    number=attempt.number,
                    at=attempt.at,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                )
            )
    return [
        DeliveryOut(
            id=d.id,
            event_id=d.event_id,
            type=d.type,
            case_id=d.case_id,
            status=d.status,
            redeliveries=d.redeliveries,
            attempts=attempts[d.id],
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            failed_at=d.failed_at,
        )
        for d in deliveries
    ]


async def _owned(
    session: AsyncSession, principal: Principal, webhook_id: str
) -> models.WebhookSubscription:
    principal.require(*SUBSCRIBERS)
    sub = await session.get(models.WebhookSubscription, webhook_id)
    if sub is None or sub.org_id != principal.owner_id:
        raise not_found("webhook")
    return sub


def _cursor(delivery: models.WebhookDelivery) -> str:
    return encode_keys(delivery.created_at.isoformat(), str(delivery.seq), delivery.id)
