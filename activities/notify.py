"""Webhook deliveries and customer emails: handing outbox rows to their delivery queues,
and the attempts themselves (one POST, one SMTP send), each logged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpcore
import httpx
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities import stubs
from activities.heartbeat import heartbeating
from activities.mail import OutgoingEmail
from db import models
from db.outbox import PendingDelivery, table_of
from db.secret_box import SecretBox
from db.types import utcnow
from domain.delivery import (
    DeliveryOutcome,
    DeliveryQueueStart,
    DeliveryRef,
    DeliveryRun,
    DeliveryRunOutcome,
    QueuedDelivery,
)
from domain.signatures import sign
from domain.webhook_targets import (
    REFUSED,
    Resolver,
    TargetRefused,
    resolve_host,
    vetted_addresses,
)
from observability import metrics
from temporal_client import enqueue_deliveries

SIGNATURE_HEADER = "X-Aftersales-Signature"
# How much of a target's answer is read: enough to reuse the connection after a usual
# answer; a target that streams without end cannot hold the attempt or fill the memory.
RESPONSE_READ_LIMIT = 64 * 1024
# One attempt from connect to the last byte read, under the activity's own timeout so the
# attempt is always logged.
ATTEMPT_DEADLINE_SECONDS = 20.0

# host -> the addresses vetted for it, for the connections this task opens (see `pinned`).
_pinned: ContextVar[dict[str, list[str]] | None] = ContextVar("webhook_pinned", default=None)


@contextlib.contextmanager
def pinned(host: str, addresses: list[str]) -> Iterator[None]:
    """Within the block, connections to `host` go to `addresses` only."""
    token = _pinned.set({**(_pinned.get() or {}), host: addresses})
    try:
        yield
    finally:
        _pinned.reset(token)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects a host name only to the addresses vetted for it (see `pinned`), in order,
    and never asks DNS again: what was checked is what is reached. TLS still names and
    verifies the host name (SNI, certificate), because the URL keeps it."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = (_pinned.get() or {}).get(host)
        if not addresses:
            raise httpcore.ConnectError(f"{host} was not checked for this attempt")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (TLS verified against the system's CAs, keep-alive pool) whose
    connections go only to the addresses `pinned` for their host. Proxies from the
    environment are ignored: a proxy would resolve the name again."""

    def __init__(self, limits: httpx.Limits = httpx.Limits()) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx takes no network backend of its own: the pool it built is replaced by the
        # same pool with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(),
        )


def webhook_client(timeout: float = 10.0) -> httpx.AsyncClient:
    """The client deliveries go out with: pinned connections, no redirects (a redirect
    would lead to a host nobody checked)."""
    return httpx.AsyncClient(
        transport=PinnedTransport(), timeout=timeout, follow_redirects=False, trust_env=False
    )


def signing_secrets(secret: str, previous: str | None, expires: datetime | None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and for a day after a
    rotation the one before it (until `expires`), so a receiver switches over without
    refusing any."""
    active = [secret]
    if previous and expires is not None and utcnow() < expires:
        active.append(previous)
    return active


def signature_headers(
    secrets: list[str], body: bytes, message_id: str, timestamp: int
) -> dict[str, str]:
    """Both signature schemes, one signature per secret in each: our own
    (`t=…,v1=<hex>,v1=<hex>`) and Standard Webhooks (`webhook-signature: v1,<b64> v1,<b64>`
    over `id.timestamp.body`), so any Standard Webhooks library verifies a delivery."""
    ours = [sign(secret, body, timestamp) for secret in secrets]
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = body.decode()
    standard = [Webhook(secret).sign(message_id, moment, text) for secret in secrets]
    return {
        SIGNATURE_HEADER: ",".join([ours[0], *(s.split(",", 1)[1] for s in ours[1:])]),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard),
    }


_D, _S = models.WebhookDelivery, models.WebhookSubscription
# What an attempt reads: plain columns, one statement built once (no ORM entities loaded).
_ATTEMPT_READ = (
    select(
        _D.status,
        _D.payload,
        _D.event_id,
        _D.type,
        _S.url,
        _S.secret,
        _S.previous_secret,
        _S.previous_secret_expires_at,
        _S.disabled_at,
    )
    .join(_S, _S.id == _D.subscription_id)
    .where(_D.id == bindparam("id"))
)
_ATTEMPTS = table_of(models.WebhookAttempt)


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
        """One signal-with-start per queue, carrying that queue's deliveries in seq order."""
        queues: dict[str, list[PendingDelivery]] = {}
        for delivery in pending:
            queues.setdefault(delivery.queue, []).append(delivery)
        for queue, batch in queues.items():
            batch.sort(key=lambda d: d.seq)
            await enqueue_deliveries(
                self.client,
                self.task_queue,
                queue,
                DeliveryQueueStart(batch[0].channel, self.retry_window, self.first_retry),
                [QueuedDelivery(d.id, d.seq, d.created_at) for d in batch],
            )


class NotifyActivities(stubs.NotifyActivities):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        mailer: Mailer | None,
        box: SecretBox,
        allow_private_targets: bool = False,
        resolve: Resolver | None = None,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.mailer = mailer
        # Opens the subscriptions' signing secrets, stored encrypted.
        self.box = box
        self.allow_private_targets = allow_private_targets
        self.resolve = resolve or resolve_host

    @activity.defn
    async def deliver_webhook(self, ref: DeliveryRef) -> DeliveryOutcome:
        """One signed POST. A 2xx marks the delivery delivered; anything else is logged and
        raised, and Temporal retries with backoff."""
        status, error = await self._attempt(ref.id)
        if error:
            raise ApplicationError(f"webhook {ref.id}: {error}", type="WebhookNotAccepted")
        return DeliveryOutcome(status)

    @activity.defn
    async def deliver_webhooks(self, run: DeliveryRun) -> DeliveryRunOutcome:
        """One attempt at each delivery of a run, in order, stopping at the first not
        accepted: what waited in a queue goes out without a Temporal round trip each. The
        queue then tries that one alone, with its retries and backoff."""
        ended = 0
        async with heartbeating():
            for ref in run.refs:
                try:
                    _, error = await self._attempt(ref.id)
                except ApplicationError:
                    break  # refused or gone: the queue's own attempt at it says so
                if error:
                    break
                ended += 1
        return DeliveryRunOutcome(ended)

    async def _attempt(self, delivery_id: str) -> tuple[str, str]:
        """One signed POST, logged: the delivery's status after it, and what went wrong
        ("" when it was accepted, or had ended already)."""
        async with self.sessions() as session:
            row = (await session.execute(_ATTEMPT_READ, {"id": delivery_id})).first()
        if row is None:
            raise ApplicationError(f"delivery {delivery_id} not found", non_retryable=True)
        if row.status != "pending":
            return row.status, ""
        if row.disabled_at is not None:
            await self._log_attempt(delivery_id, None, "subscription disabled", 0, "failed")
            metrics.count_webhook_attempt("disabled", ended="failed")
            return "failed", ""
        host = httpx.URL(row.url).raw_host.decode("ascii")
        try:
            # Resolved and checked at each attempt, since DNS answers change; the POST then
            # connects to these addresses, never to what the name resolves to later.
            addresses = await vetted_addresses(host, self.resolve, self.allow_private_targets)
        except TargetRefused:
            await self._log_attempt(delivery_id, None, f"refused: {REFUSED}", 0, "failed")
            metrics.count_webhook_attempt("refused", ended="failed")
            raise ApplicationError(
                REFUSED, type="WebhookTargetNotPublic", non_retryable=True
            ) from None
        except OSError:
            addresses = []  # no answer: the POST fails to connect, and is retried
        body = json.dumps(row.payload, separators=(",", ":")).encode()
        stored = signing_secrets(row.secret, row.previous_secret, row.previous_secret_expires_at)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "aftersales-webhooks/1",
            **signature_headers(
                [self.box.decrypt(secret) for secret in stored],
                body,
                row.event_id,
                int(time.time()),
            ),
            "X-Aftersales-Event-Id": row.event_id,
            "X-Aftersales-Event": row.type,
            "X-Aftersales-Delivery": delivery_id,
        }
        started = time.monotonic()
        async with heartbeating():
            code, error = await self._post(row.url, host, addresses, body, headers)
        elapsed = int((time.monotonic() - started) * 1000)
        await self._log_attempt(delivery_id, code, error, elapsed, None if error else "delivered")
        if not error:
            metrics.count_webhook_attempt("accepted", ended="delivered")
            return "delivered", ""
        metrics.count_webhook_attempt("no_answer" if code is None else "rejected")
        return "pending", error

    async def _post(
        self, url: str, host: str, addresses: list[str], body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str]:
        """The target's status code (None when there was no answer) and what went wrong."""
        try:
            async with asyncio.timeout(ATTEMPT_DEADLINE_SECONDS):
                with pinned(host, addresses):
                    async with self.http.stream(
                        "POST", url, content=body, headers=headers
                    ) as response:
                        read = 0
                        async for chunk in response.aiter_raw():
                            read += len(chunk)
                            if read >= RESPONSE_READ_LIMIT:
                                break
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        except TimeoutError:
            return None, f"no complete answer within {ATTEMPT_DEADLINE_SECONDS:.0f} s"
        code = response.status_code
        return code, "" if 200 <= code < 300 else f"answered {code}"

    async def _log_attempt(
        self, delivery_id: str, code: int | None, error: str, elapsed_ms: int, end: str | None
    ) -> None:
        """Count and log the attempt, and end the delivery when `end` says so (a failed
        attempt leaves it pending for the next retry). The counter is bumped in the UPDATE
        itself, so two attempts never get the same number."""
        D = models.WebhookDelivery
        now = utcnow()
        changes: dict[str, object] = {"attempts": D.attempts + 1, "last_status_code": code}
        if end == "delivered":
            changes.update(status="delivered", delivered_at=now)
        elif end == "failed":
            changes.update(status="failed", failed_at=now)
        # Core statements, one transaction: no unit of work to flush for two rows.
        async with self.sessions.begin() as session:
            number = await session.scalar(
                update(D).where(D.id == delivery_id).values(changes).returning(D.attempts)
            )
            await session.execute(
                _ATTEMPTS.insert(),
                {
                    "delivery_id": delivery_id,
                    "number": number,
                    "at": now,
                    "status_code": code,
                    "error": error,
                    "duration_ms": elapsed_ms,
                },
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
            async with heartbeating():
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
            if delivery is None or delivery.status != "pending":
                return
            delivery.status = "failed"
            delivery.failed_at = utcnow()
        metrics.count_webhook_given_up()
