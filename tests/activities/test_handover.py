"""The hand-over off the workflow task: a projection returns before its deliveries reach
Temporal; a failed hand-over is retried in order; what a dead worker never handed over is
found by the next worker's sweep, and only what is still pending."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities import handover as handover_module
from activities.handover import Handover
from cli import migrate
from db import models
from db.outbox import PendingDelivery
from db.session import make_engine, make_sessionmaker

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FlakyTemporal:
    """Stands in for the Dispatcher: refuses the first `failures` calls, records the rest."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.handed: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    async def dispatch(self, pending: list[PendingDelivery]) -> None:
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("temporal unavailable")
        self.handed.extend(d.id for d in pending)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path}/handover.db"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def pending(queue: str, seq: int) -> PendingDelivery:
    return PendingDelivery(f"d-{queue}-{seq}", "webhook", queue, seq, T0)


async def test_dispatch_returns_at_once_and_hands_over_in_order_after_failures(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handover_module, "FIRST_RETRY", 0.01)
    temporal = FlakyTemporal(failures=2)
    temporal.release.clear()  # Temporal answers only once the projection has returned
    relay = Handover(temporal, sessions)  # type: ignore[arg-type]
    await asyncio.wait_for(relay.dispatch([pending("q1", 2), pending("q1", 1)]), 1)
    await relay.dispatch([pending("q2", 1), pending("q1", 3)])
    assert temporal.handed == []
    temporal.release.set()
    await asyncio.wait_for(relay.idle(), 5)
    q1 = [d for d in temporal.handed if d.startswith("d-q1")]
    assert q1 == ["d-q1-1", "d-q1-2", "d-q1-3"]
    assert sorted(temporal.handed) == sorted([*q1, "d-q2-1"])


async def test_the_sweep_hands_over_only_what_is_still_pending(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        org = models.Organisation(name=f"shop-{uuid.uuid4().hex[:6]}", kind="retailer")
        session.add(org)
        await session.flush()
        sub = models.WebhookSubscription(
            org_id=org.id, url="http://127.0.0.1:9/hook", events=["*"], secret="s3cret"
        )
        session.add(sub)
        await session.flush()
        rows = {
            status: models.WebhookDelivery(
                subscription_id=sub.id,
                case_id="RMA-1",
                seq=seq,
                event_id=f"evt_{seq}",
                type="rma.received",
                payload={},
                created_at=T0,
                status=status,
            )
            for seq, status in enumerate(("delivered", "pending", "failed"), start=1)
        }
        session.add_all(rows.values())
    temporal = FlakyTemporal()
    # A worker died after committing: nothing was handed over; the next one sweeps.
    relay = Handover(temporal, sessions)  # type: ignore[arg-type]
    async with relay.running():
        pass
    assert temporal.handed == [rows["pending"].id]
