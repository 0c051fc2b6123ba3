"""Webhook attempts by result and deliveries by how they ended, counted by the attempt
itself against a real local receiver; and the backlog the worker's /metrics reads from the
database: outbox rows not handed over, the oldest delivery still pending."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.notify import NotifyActivities, webhook_client
from cli import migrate
from db import models
from db.backlog import oldest_pending_webhook, outbox_depth
from db.session import make_engine, make_sessionmaker
from db.types import utcnow
from domain.delivery import DeliveryRef
from tests.activities.test_notify import pending_delivery
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.support import SECRET_BOX, free_port


@pytest.fixture(scope="module")
async def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    tmp: Path = tmp_path_factory.mktemp("webhook-metrics")
    url = f"sqlite+aiosqlite:///{tmp}/read-model.db"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as running:
        yield running


@pytest.fixture
async def notify(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[NotifyActivities]:
    async with webhook_client(timeout=5) as http:
        yield NotifyActivities(sessions, http, None, SECRET_BOX, allow_private_targets=True)


def counts() -> dict[str, float]:
    found: dict[str, float] = {}
    for family in REGISTRY.collect():
        if family.name in ("aftersales_webhook_attempts", "aftersales_webhook_deliveries"):
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    found[f"{family.name}:{sample.labels['result']}"] = sample.value
    return found


def change(before: dict[str, float]) -> dict[str, float]:
    """What grew since `before`, by metric and result."""
    now = counts()
    return {key: now[key] - before.get(key, 0) for key in now if now[key] != before.get(key, 0)}


async def test_an_accepted_attempt_delivers_once(
    sessions: async_sessionmaker[AsyncSession], notify: NotifyActivities, receiver: Receiver
) -> None:
    delivery = await pending_delivery(sessions, receiver.url("/ok/1"))
    before = counts()
    await notify.deliver_webhook(DeliveryRef(delivery))
    await notify.deliver_webhook(DeliveryRef(delivery))  # delivered already: no attempt
    assert change(before) == {
        "aftersales_webhook_attempts:accepted": 1,
        "aftersales_webhook_deliveries:delivered": 1,
    }


async def test_attempts_not_accepted_and_a_delivery_given_up(
    sessions: async_sessionmaker[AsyncSession], notify: NotifyActivities, receiver: Receiver
) -> None:
    rejected = await pending_delivery(sessions, receiver.url("/down/1"))
    unanswered = await pending_delivery(sessions, f"http://127.0.0.1:{free_port()}/hook")
    before = counts()
    for delivery in (rejected, unanswered):
        with pytest.raises(ApplicationError):
            await notify.deliver_webhook(DeliveryRef(delivery))
    for _ in range(2):  # the queue's give-up, retried
        await notify.give_up(DeliveryRef(rejected))
    assert change(before) == {
        "aftersales_webhook_attempts:rejected": 1,
        "aftersales_webhook_attempts:no_answer": 1,
        "aftersales_webhook_deliveries:failed": 1,
    }


async def test_a_disabled_subscription_fails_its_delivery(
    sessions: async_sessionmaker[AsyncSession], notify: NotifyActivities, receiver: Receiver
) -> None:
    delivery = await pending_delivery(sessions, receiver.url("/ok/2"))
    async with sessions.begin() as session:
        row = await session.get(models.WebhookDelivery, delivery)
        assert row is not None
        await session.execute(
            update(models.WebhookSubscription)
            .where(models.WebhookSubscription.id == row.subscription_id)
            .values(disabled_at=utcnow())
        )
    before = counts()
    await notify.deliver_webhook(DeliveryRef(delivery))
    assert change(before) == {
        "aftersales_webhook_attempts:disabled": 1,
        "aftersales_webhook_deliveries:failed": 1,
    }


async def backlog(sessions: async_sessionmaker[AsyncSession]) -> tuple[dict[str, int], Any]:
    async with sessions() as session:
        return await outbox_depth(session, cap=1000), await oldest_pending_webhook(session)


async def test_the_backlog_counts_what_no_queue_holds_and_ages_what_waits(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    depth, _ = await backlog(sessions)
    waiting = await pending_delivery(sessions, receiver.url("/ok/3"))
    created = utcnow() - timedelta(hours=2)
    async with sessions.begin() as session:
        await session.execute(
            update(models.WebhookDelivery)
            .where(models.WebhookDelivery.id == waiting)
            .values(created_at=created)
        )
    grown, oldest = await backlog(sessions)
    assert grown == {"webhook": depth["webhook"] + 1, "email": depth["email"]}
    assert oldest == created
    # Handed over to its queue: out of the outbox, still pending (the oldest) until sent.
    async with sessions.begin() as session:
        await session.execute(
            update(models.WebhookDelivery)
            .where(models.WebhookDelivery.id == waiting)
            .values(handed_over_at=utcnow())
        )
    assert await backlog(sessions) == (depth, created)
    async with sessions() as session:
        assert await outbox_depth(session, cap=0) == {"webhook": 0, "email": 0}
