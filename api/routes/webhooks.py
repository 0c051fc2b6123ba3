"""Webhook subscriptions (`POST /v1/webhooks`) and their delivery log."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from temporalio.service import RPCError

from api.auth import OrgKind, Principal
from api.commands import answer_once, setup_command_key
from api.deps import (
    AsyncSession,
    PrincipalDep,
    SecretBoxDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
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
from db.outbox import webhook_queue
from db.types import utcnow
from db.webhook_deliveries import attempts_of, delivery_page, lock_delivery, reopen, undo_reopen
from db.webhook_subscriptions import (
    QuotaReached,
    create_subscription,
    disable,
    signing_secret,
    subscription,
    subscriptions_of,
)
from db.webhook_subscriptions import (
    rotate_secret as rotate,
)
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
    box: SecretBoxDep,
    idempotency_key: IdempotencyKey = None,
) -> WebhookCreated:
    """Events of the organisation's own cases (and, for a repair center, of the repair jobs,
    relocations and installations it works) go to `url`, signed with the returned `secret`."""
    principal.require(*SUBSCRIBERS)
    if not settings.webhook_allow_private_targets:
        try:
            await vetted_addresses(body.url.host or "", resolve_host, allow_private=False)
        except TargetRefused as exc:
            raise Problem(422, "webhook_target_not_public", REFUSED) from exc
        except OSError:
            pass  # no answer today: every attempt resolves and checks again
    org_id = principal.owner_id
    body_hash = request_hash(body.model_dump(mode="json"))

    async def claim(key: str, sub_id: str) -> str | None:
        return await reserve(session, org_id, key, body_hash, "webhook", sub_id)

    try:
        sub = await create_subscription(
            session,
            org_id,
            url=str(body.url),
            events=body.events,
            secret=new_secret(),
            box=box,
            quota=settings.webhook_quota,
            claim=partial(claim, idempotency_key) if idempotency_key is not None else None,
        )
    except QuotaReached as exc:
        raise Problem(
            409,
            "webhook_quota_exceeded",
            f"an organisation has at most {exc.quota} active webhooks; delete one first",
            quota=exc.quota,
        ) from exc
    # Read back from the row: a retry with the same Idempotency-Key answers the first secret.
    return WebhookCreated(**_public(sub).model_dump(), secret=signing_secret(sub, box))


@router.get("", response_model=Page[WebhookPublic])
async def list_subscriptions(principal: PrincipalDep, session: SessionDep) -> Page[WebhookPublic]:
    principal.require(*SUBSCRIBERS)
    return Page(items=[_public(s) for s in await subscriptions_of(session, principal.owner_id)])


@router.get("/{webhook_id}", response_model=WebhookPublic)
async def get_subscription(
    webhook_id: str, principal: PrincipalDep, session: SessionDep
) -> WebhookPublic:
    return _public(await _owned(session, principal, webhook_id))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe(webhook_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    """Stop sending: new events are no longer queued, and queued ones end as failed."""
    await disable(session, await _owned(session, principal, webhook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookSecret)
async def rotate_secret(
    webhook_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    box: SecretBoxDep,
    idempotency_key: IdempotencyKey = None,
) -> WebhookSecret:
    """A new signing secret. For 24 hours deliveries carry signatures with both the new and
    the old one, so the receiver can switch at its own pace; a second rotation within the
    day retires the oldest at once.

    A retry with the same `Idempotency-Key` rotates nothing and answers the secret that
    request made, read from the subscription (where it is kept encrypted): the key's record
    keeps only when the old secret expires, never a secret. Once another rotation has
    replaced that secret, the retry is a 409 `conflict`."""
    sub = await _owned(session, principal, webhook_id)
    key = setup_command_key(idempotency_key, principal, "rotate_secret", {"webhook_id": sub.id})

    async def rotate_now() -> WebhookSecret:
        secret = new_secret()
        await rotate(session, sub, secret, box, ROTATION_OVERLAP)
        return WebhookSecret(
            secret=secret, previous_secret_expires_at=sub.previous_secret_expires_at
        )

    def kept(answer: WebhookSecret) -> dict[str, Any]:
        return answer.model_dump(mode="json", exclude={"secret"})

    async def replay(first: dict[str, Any]) -> WebhookSecret:
        await session.refresh(sub)
        made = WebhookSecret.model_validate({**first, "secret": "-"})
        # Each rotation sets a new expiry: the same one means no rotation came after.
        if sub.previous_secret_expires_at != made.previous_secret_expires_at:
            raise Problem(
                409,
                "conflict",
                "the secret this Idempotency-Key made has since been replaced by another "
                "rotation; it is not shown again",
            )
        return made.model_copy(update={"secret": signing_secret(sub, box)})

    return await answer_once(session, key, WebhookSecret, rotate_now, kept=kept, replay=replay)


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
    before = None
    if cursor:
        created, seq, after = decode_keys(cursor, 3)
        # A sequence number is a few digits; more would overflow the integer column.
        if not (seq.isascii() and seq.isdigit() and len(seq) <= 9):
            raise invalid_cursor()
        before = (decode_time(created), int(seq), after)
    rows = await delivery_page(
        session,
        sub.id,
        status=status_filter,
        case_id=case_id,
        before=before,
        limit=limit + 1,
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
    idempotency_key: IdempotencyKey = None,
) -> DeliveryOut:
    """Send an event again (after a receiver came back from a long outage, or lost what it
    had): the delivery is pending again, with a fresh retry window, in its case's queue. A
    retry with the same `Idempotency-Key` gets the first answer and sends nothing more."""
    sub = await _owned(session, principal, webhook_id)
    key = setup_command_key(
        idempotency_key,
        principal,
        "redeliver",
        {"webhook_id": webhook_id, "delivery_id": delivery_id},
    )

    async def send_again() -> DeliveryOut:
        if sub.disabled_at is not None:
            raise Problem(409, "webhook_disabled", "this subscription no longer sends events")
        delivery = await lock_delivery(session, delivery_id)
        if delivery is None or delivery.subscription_id != sub.id:
            raise not_found("delivery")
        if delivery.status == "pending":
            raise Problem(409, "delivery_pending", "this delivery is still being attempted")
        before = await reopen(session, delivery)
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
            await undo_reopen(session, delivery, before)
            raise temporal_unavailable() from exc
        (out,) = await _deliveries_out(session, [delivery])
        return out

    return await answer_once(session, key, DeliveryOut, send_again)


async def _deliveries_out(
    session: AsyncSession, deliveries: list[models.WebhookDelivery]
) -> list[DeliveryOut]:
    attempts = await attempts_of(session, [d.id for d in deliveries])
    return [
        DeliveryOut(
            id=d.id,
            event_id=d.event_id,
            type=d.type,
            case_id=d.case_id,
            status=d.status,
            redeliveries=d.redeliveries,
            attempts=[
                AttemptOut(
                    number=a.number,
                    at=a.at,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in attempts[d.id]
            ],
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
    sub = await subscription(session, principal.owner_id, webhook_id)
    if sub is None:
        raise not_found("webhook")
    return sub


def _cursor(delivery: models.WebhookDelivery) -> str:
    return encode_keys(delivery.created_at.isoformat(), str(delivery.seq), delivery.id)
