"""The webhook attempt against real HTTP servers on this machine: it connects to the address
it checked (DNS rebinding between check and connect reaches nothing inside), says no more
than one generic sentence when it refuses, and reads a bounded part of any answer."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpcore
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from temporalio.exceptions import ApplicationError

from activities.notify import NotifyActivities, webhook_client
from cli import migrate
from db import models
from db.session import make_engine, make_sessionmaker
from domain.delivery import DeliveryRef
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.support import SECRET_BOX, free_port, serve_asgi

REBINDING_HOST = "hooks.rebind.test"
PUBLIC_ANSWER = "93.184.216.34"


@pytest.fixture(scope="module")
async def sessions(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("notify")
    url = f"sqlite+aiosqlite:///{tmp}/read-model.db"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as running:
        yield running


async def pending_delivery(sessions: async_sessionmaker[AsyncSession], url: str) -> str:
    event_id = f"evt_{uuid.uuid4().hex}"
    async with sessions.begin() as session:
        org = models.Organisation(name=f"shop-{uuid.uuid4().hex[:6]}", kind="retailer")
        session.add(org)
        await session.flush()
        sub = models.WebhookSubscription(
            org_id=org.id, url=url, events=["*"], secret=SECRET_BOX.encrypt("s3cret")
        )
        session.add(sub)
        await session.flush()
        delivery = models.WebhookDelivery(
            subscription_id=sub.id, case_id="RMA-EDGE", seq=1,
            event_id=event_id, type="rma.awaiting_return", payload={"event_id": event_id},
        )  # fmt: skip
        session.add(delivery)
    return delivery.id


async def attempts(sessions: async_sessionmaker[AsyncSession], delivery_id: str) -> list[Any]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(models.WebhookAttempt)
                .where(models.WebhookAttempt.delivery_id == delivery_id)
                .order_by(models.WebhookAttempt.number)
            )
        )


async def test_dns_rebinding_between_check_and_connect_reaches_nothing_inside(
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The name answers public to the first lookup and this machine to every later one: a
    # client that looks up again to connect would reach the receiver on 127.0.0.1.
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == REBINDING_HOST:
            lookups.append(host)
            return real(PUBLIC_ANSWER if len(lookups) == 1 else "127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # Nothing leaves this machine: the public address is answered "unreachable" here.
    connect = httpcore.AnyIOBackend.connect_tcp
    tried: list[str] = []

    async def offline(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        tried.append(host)
        if host == PUBLIC_ANSWER:
            raise httpcore.ConnectError("network unreachable (test)")
        return await connect(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", offline)
    port = receiver.base_url.rsplit(":", 1)[1]
    delivery_id = await pending_delivery(sessions, f"http://{REBINDING_HOST}:{port}/ok/rebind")
    async with webhook_client(timeout=1.0) as http:
        strict = NotifyActivities(sessions, http, None, SECRET_BOX, allow_private_targets=False)
        with pytest.raises(ApplicationError) as first:
            await strict.deliver_webhook(DeliveryRef(delivery_id))
        # It tried the address it checked (nothing there), not the one DNS gave next.
        assert first.value.type == "WebhookNotAccepted" and not first.value.non_retryable
        assert lookups == [REBINDING_HOST] and tried == [PUBLIC_ANSWER]
        assert receiver.seen("/ok/rebind") == []

        # The next attempt checks again, sees the inside address and refuses for good.
        with pytest.raises(ApplicationError) as second:
            await strict.deliver_webhook(DeliveryRef(delivery_id))
    assert second.value.type == "WebhookTargetNotPublic" and second.value.non_retryable
    assert receiver.seen("/ok/rebind") == []
    logged = await attempts(sessions, delivery_id)
    assert [a.status_code for a in logged] == [None, None]
    assert logged[1].error == "refused: webhooks go to public addresses only"
    assert "127.0.0.1" not in str(second.value) and "127.0.0.1" not in logged[1].error


async def test_development_still_delivers_to_this_machine(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    delivery_id = await pending_delivery(sessions, receiver.url("/ok/local"))
    async with webhook_client() as http:
        relaxed = NotifyActivities(sessions, http, None, SECRET_BOX, allow_private_targets=True)
        outcome = await relaxed.deliver_webhook(DeliveryRef(delivery_id))
    assert outcome.status == "delivered"
    assert len(receiver.accepted("/ok/local")) == 1


async def test_a_target_answering_without_end_is_read_up_to_a_cap(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stop = asyncio.Event()

    async def endless(_: Request) -> StreamingResponse:
        async def forever() -> AsyncIterator[bytes]:
            # Without end until the test is over (then the server can shut down).
            while not stop.is_set():
                yield b"x" * 16384
                await asyncio.sleep(0)

        return StreamingResponse(forever(), status_code=200)

    port = free_port()
    app = Starlette(routes=[Route("/{rest:path}", endless, methods=["POST"])])
    async with serve_asgi(app, port):
        delivery_id = await pending_delivery(sessions, f"http://127.0.0.1:{port}/endless")
        async with webhook_client() as http:
            notify = NotifyActivities(sessions, http, None, SECRET_BOX, allow_private_targets=True)
            try:
                outcome = await asyncio.wait_for(
                    notify.deliver_webhook(DeliveryRef(delivery_id)), 10
                )
            finally:
                stop.set()
    assert outcome.status == "delivered"
    (attempt,) = await attempts(sessions, delivery_id)
    assert attempt.status_code == 200 and attempt.error == ""
