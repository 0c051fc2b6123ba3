"""The hand-over off the workflow task: a projection returns before its deliveries reach
Temporal; what waits for one queue goes in one hand-over, in order, retried after
failures, then marked; what a dead worker never handed over is claimed by a live worker's
sweep within seconds, only once, and only what is still pending and unmarked.

On SQLite, and on PostgreSQL too when AFTERSALES_TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities import handover as handover_module
from activities.handover import ORPHAN_AFTER, Handover
from cli import migrate
from db import models
from db.outbox import PendingDelivery, webhook_queue
from db.session import make_engine, make_sessionmaker
from tests.support import database_url_for_tests, postgres_database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FlakyTemporal:
    """Stands in for the Dispatcher: refuses the first `failures` calls, records the rest
    (each call's deliveries as one hand-over)."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        # Set once a hand-over has begun: the sweep that called holds its claim by then.
        self.asked = asyncio.Event()

    @property
    def handed(self) -> list[str]:
        return [id_ for call in self.calls for id_ in call]

    async def dispatch(self, pending: list[PendingDelivery]) -> None:
        self.asked.set()
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("temporal unavailable")
        self.calls.append([d.id for d in pending])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/handover.db"
        return
    base = database_url_for_tests()
    if base is None:
        pytest.skip("AFTERSALES_TEST_DATABASE_URL is not set")
    with postgres_database(base) as url:
        yield url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await asyncio.to_thread(migrate, database_url)
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def pending(queue: str, seq: int) -> PendingDelivery:
    return PendingDelivery(f"d-{queue}-{seq}", "webhook", queue, seq, T0)


async def outbox(
    sessions: async_sessionmaker[AsyncSession], *rows: tuple[str, bool]
) -> list[PendingDelivery]:
    """Delivery rows of one case, seq 1.., each (status, handed over?); answered as the
    projection passes them on."""
    async with sessions.begin() as session:
        org = models.Organisation(name=f"shop-{uuid.uuid4().hex[:6]}", kind="retailer")
        session.add(org)
        await session.flush()
        sub = models.WebhookSubscription(
            org_id=org.id, url="http://127.0.0.1:9/hook", events=["*"], secret="s3cret"
        )
        session.add(sub)
        await session.flush()
        stored = [
            models.WebhookDelivery(
                subscription_id=sub.id,
                case_id="RMA-1",
                seq=seq,
                event_id=f"evt_{seq}",
                type="rma.received",
                payload={},
                created_at=T0,
                status=status,
                handed_over_at=T0 if marked else None,
            )
            for seq, (status, marked) in enumerate(rows, start=1)
        ]
        session.add_all(stored)
    return [
        PendingDelivery(d.id, "webhook", webhook_queue(d.subscription_id, "RMA-1"), d.seq, T0)
        for d in stored
    ]


async def marked(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> list[bool]:
    D = models.WebhookDelivery
    async with sessions() as session:
        found = {id_: at for id_, at in await session.execute(select(D.id, D.handed_over_at))}
    return [found[i] is not None for i in ids]


async def test_dispatch_returns_at_once_and_hands_a_queue_over_in_one_call_in_order(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handover_module, "FIRST_RETRY", 0.01)
    temporal = FlakyTemporal(failures=2)
    temporal.release.clear()  # Temporal answers only once the projection has returned
    relay = Handover(temporal, sessions)
    await asyncio.wait_for(relay.dispatch([pending("q1", 2), pending("q1", 1)]), 1)
    await relay.dispatch([pending("q2", 1), pending("q1", 3)])
    assert temporal.handed == []
    temporal.release.set()
    await asyncio.wait_for(relay.idle(), 5)
    # After two refusals, what waited for a queue went in one hand-over, in timeline order
    # (q1-3, taken over while q1's first hand-over was failing, in the next one).
    assert sorted(temporal.calls) == [["d-q1-1", "d-q1-2"], ["d-q1-3"], ["d-q2-1"]]


async def test_what_a_worker_hands_over_is_marked_and_never_swept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rows = await outbox(sessions, ("pending", False), ("pending", False))
    temporal, clock = FlakyTemporal(), Clock()
    temporal.release.clear()  # a slow hand-over: still not marked after ORPHAN_AFTER
    relay = Handover(temporal, sessions, clock)
    await relay.dispatch(rows)
    assert await relay.sweep() == 0
    clock.now += ORPHAN_AFTER + 1
    assert await relay.sweep() == 0  # its own rows are on their way: not the sweep's
    temporal.release.set()
    await asyncio.wait_for(relay.idle(), 5)
    assert temporal.calls == [[r.id for r in rows]]
    assert await marked(sessions, [r.id for r in rows]) == [True, True]
    # A retried projection passing them on again: pending, but marked, so not handed over.
    clock.now += ORPHAN_AFTER + 1
    assert await relay.sweep() == 0
    assert len(temporal.calls) == 1


async def test_a_live_worker_hands_over_within_seconds_what_a_dead_one_left(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    left, queued, delivered, failed = await outbox(
        sessions, ("pending", False), ("pending", True), ("delivered", True), ("failed", False)
    )
    # The worker that wrote `left` died before handing it over; another one sweeps.
    temporal, clock = FlakyTemporal(failures=1), Clock()
    relay = Handover(temporal, sessions, clock)
    assert await relay.sweep() == 0  # seen unmarked once: maybe still on its way
    clock.now += ORPHAN_AFTER - 1
    assert await relay.sweep() == 0
    clock.now += 1
    with pytest.raises(ConnectionError):
        await relay.sweep()  # Temporal refused: nothing marked, the next sweep tries again
    assert await marked(sessions, [left.id]) == [False]
    assert await relay.sweep() == 1
    assert temporal.handed == [left.id]
    # A row that ended is not the sweep's, marked or not.
    assert await marked(sessions, [left.id, queued.id, delivered.id, failed.id]) == [
        True,
        True,
        True,
        False,
    ]
    clock.now += ORPHAN_AFTER
    assert await relay.sweep() == 0
    assert temporal.handed == [left.id]


async def test_two_workers_sweeping_at_once_hand_a_row_over_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no row locks: there a second hand-over is possible, and ignored")
    rows = await outbox(sessions, ("pending", False), ("pending", False))
    clock = Clock()
    first, second = FlakyTemporal(), FlakyTemporal()
    first.release.clear()  # the first claims, then waits on Temporal holding its claim
    one, other = Handover(first, sessions, clock), Handover(second, sessions, clock)
    assert await one.sweep() == 0 and await other.sweep() == 0
    clock.now += ORPHAN_AFTER
    claiming = asyncio.create_task(one.sweep())
    # Waited for on the hand-over itself: a probe taking row locks of its own would make
    # the first worker's claim skip the rows it held at that moment.
    await asyncio.wait_for(first.asked.wait(), timeout=30)
    assert await other.sweep() == 0  # the rows are claimed: skipped, not waited for
    first.release.set()
    assert await claiming == 2
    assert first.handed == [r.id for r in rows] and second.handed == []
    assert await other.sweep() == 0
