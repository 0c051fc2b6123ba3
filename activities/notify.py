"""Webhook deliveries and customer emails: handing outbox rows to their delivery queues,
and the attempts themselves (one POST, one SMTP send), each logged."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.mail import OutgoingEmail
from db import models
from db.outbox import PendingDelivery
from db.types import utcnow
from domain.delivery import (
    DeliveryOutcome,
    DeliveryQueueStart,
    DeliveryRef,
    QueuedDelivery,
)
from domain.signatures import sign
from domain.webhook_targets import is_public, literal_problem
from temporal_client import enqueue_delivery

SIGNATURE_HEADER = "X-Aftersales-Signature"
ATTEMPT_TIMEOUT = timedelta(seconds=30)


Resolver = Callable[[str], Awaitable[list[str]]]


async def resolve_host(host: str) -> list[str]:
    found = await asyncio.get_running_loop().getaddrinfo(host, None)
    return sorted({str(info[4][0]) for info in found})


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None: ...


class Dispatcher:
    """Hands pending deliveries to their queue workflow (signal-with-start: one running
    queue per subscription and case, or per case for emails, started on first use)."""

    def __init__(
        self, client: Client, task_queue: str, retry_window: timedelta, first_retry: timedelta
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.retry_window = retry_window
        self.first_retry = first_retry

    async def dispatch(self, pending: list[PendingDelivery]) -> None:
        for delivery in pending:
            await enqueue_delivery(
                self.client,
                self.task_queue,
                delivery.queue,
                DeliveryQueueStart(delivery.channel, self.retry_window, self.first_retry),
                QueuedDelivery(delivery.id, delivery.seq, delivery.created_at),
            )


class NotifyActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        mailer: Mailer | None,
        allow_private_targets: bool = False,
        resolve: Resolver | None = None,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.mailer = mailer
        self.allow_private_targets = allow_private_targets
        self.resolve = resolve or resolve_host

    @activity.defn
    async def deliver_webhook(self, ref: DeliveryRef) -> DeliveryOutcome:
        """One signed POST. A 2xx marks the delivery delivered; anything else is logged and
        raised, and Temporal retries with backoff."""
        D, S = models.WebhookDelivery, models.WebhookSubscription
        async with self.sessions() as session:
            found = (
                await session.execute(
                    select(D, S).join(S, S.id == D.subscription_id).where(D.id == ref.id)
                )
            ).first()
        if found is None:
            raise ApplicationError(f"delivery {ref.id} not found", non_retryable=True)
        delivery, subscription = found
        if delivery.status != "pending":
            return DeliveryOutcome(delivery.status)
        if subscription.disabled_at is not None:
            await self._log_attempt(ref.id, None, "subscription disabled", 0, "failed")
            return DeliveryOutcome("failed")
        refused = await self._target_problem(subscription.url)
        if refused is not None:
            await self._log_attempt(ref.id, None, f"refused: {refused}", 0, "failed")
            raise ApplicationError(refused, type="WebhookTargetNotPublic", non_retryable=True)
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "aftersales-webhooks/1",
            SIGNATURE_HEADER: sign(subscription.secret, body, int(time.time())),
            "X-Aftersales-Event-Id": delivery.event_id,
            "X-Aftersales-Event": delivery.type,
            "X-Aftersales-Delivery": delivery.id,
        }
        started = time.monotonic()
        code: int | None = None
        error = ""
        try:
            response = await self.http.post(subscription.url, content=body, headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"answered {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        elapsed = int((time.monotonic() - started) * 1000)
        await self._log_attempt(ref.id, code, error, elapsed, None if error else "delivered")
        if error:
            raise ApplicationError(f"webhook {ref.id}: {error}", type="WebhookNotAccepted")
        return DeliveryOutcome("delivered")

    async def _target_problem(self, url: str) -> str | None:
        """Why this URL may not be called from here (it resolves into a private network),
        checked at each attempt since DNS answers change."""
        if self.allow_private_targets:
            return None
        host = httpx.URL(url).host
        problem = literal_problem(host)
        if problem is not None:
            return problem
        try:
            addresses = await self.resolve(host)
        except OSError:
            return None  # no answer: the POST fails the same way and is retried
        private = sorted(a for a in addresses if not is_public(a))
        return f"{host} resolves to {private[0]}, not a public address" if private else None

    async def _log_attempt(
        self, delivery_id: str, code: int | None, error: str, elapsed_ms: int, end: str | None
    ) -> None:
        """Count and log the attempt, and end the delivery when `end` says so (a failed
        attempt leaves it pending for the next retry). The counter is bumped in the UPDATE
        itself, so two attempts never get the same number."""
        D = models.WebhookDelivery
        changes: dict[str, object] = {"attempts": D.attempts + 1, "last_status_code": code}
        if end == "delivered":
            changes.update(status="delivered", delivered_at=utcnow())
        elif end == "failed":
            changes.update(status="failed", failed_at=utcnow())
        async with self.sessions.begin() as session:
            number = await session.scalar(
                update(D).where(D.id == delivery_id).values(changes).returning(D.attempts)
            )
            session.add(
                models.WebhookAttempt(
                    delivery_id=delivery_id,
                    number=number,
                    status_code=code,
                    error=error,
                    duration_ms=elapsed_ms,
                )
            )

    @activity.defn
    async def send_email(self, ref: DeliveryRef) -> DeliveryOutcome:
        async with self.sessions() as session:
            email = await session.get(models.Email, ref.id)
            if email is None:
                raise ApplicationError(f"email {ref.id} not found", non_retryable=True)
            if email.status != "pending":
                return DeliveryOutcome(email.status)
            outgoing = OutgoingEmail(email.id, email.to_address, email.subject, email.body)
        if self.mailer is None:
            # SMTP was configured when the email was queued and is not now: keep it for
            # whoever reads the outbox rather than fail it.
            await self._set_email(ref.id, "outbox", "")
            return DeliveryOutcome("outbox")
        try:
            await self.mailer.send(outgoing)
        except Exception as exc:
            await self._set_email(ref.id, "pending", f"{type(exc).__name__}: {exc}"[:500])
            raise ApplicationError(f"email {ref.id}: {exc}", type="EmailNotSent") from exc
        await self._set_email(ref.id, "sent", "")
        return DeliveryOutcome("sent")

    async def _set_email(self, email_id: str, status: str, error: str) -> None:
        async with self.sessions.begin() as session:
            email = await session.get(models.Email, email_id, with_for_update=True)
            assert email is not None
            email.attempts += 1
            email.status = status
            email.last_error = error
            if status == "sent":
                email.sent_at = utcnow()

    @activity.defn
    async def give_up(self, ref: DeliveryRef) -> None:
        """The retry window has passed without success: the delivery is failed for good."""
        async with self.sessions.begin() as session:
            if ref.channel == "email":
                email = await session.get(models.Email, ref.id, with_for_update=True)
                if email is not None and email.status == "pending":
                    email.status = "failed"
                return
            delivery = await session.get(models.WebhookDelivery, ref.id, with_for_update=True)
            if delivery is not None and delivery.status == "pending":
                delivery.status = "failed"
                delivery.failed_at = utcnow()
