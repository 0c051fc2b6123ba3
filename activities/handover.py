"""The hand-over: outbox rows go to their delivery queues from the worker process, off the
workflow task that wrote them.

A projection commits its timeline entries with their webhook deliveries and emails (the
outbox, `db.outbox`) and passes what it wrote here; it returns at once, and the workflow
task goes on without waiting for Temporal round trips. `Handover` signals-with-start the
delivery queues in the background, one queue's deliveries in timeline order.

Nothing is lost: the rows are durable before they are passed here; a hand-over that fails
(Temporal unreachable) is retried with backoff; a worker that dies with hand-overs still in
memory leaves their rows `pending`, and `sweep` (run when a worker starts) hands every
pending row over again. Nothing is sent twice: a queue ignores a delivery it already holds
(by id and round), and an attempt on a delivery no longer pending sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.notify import Dispatcher
from db.outbox import PendingDelivery, all_pending_deliveries

log = structlog.get_logger(__name__)

FIRST_RETRY = 0.2  # seconds
MAX_RETRY = 10.0
# Queues handed over at once: each is a signal-with-start round trip.
PARALLEL_QUEUES = 16


class Handover:
    def __init__(self, dispatcher: Dispatcher, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.dispatcher = dispatcher
        self.sessions = sessions
        self._waiting: dict[str, list[PendingDelivery]] = {}
        self._task: asyncio.Task[None] | None = None

    async def dispatch(self, pending: list[PendingDelivery]) -> None:
        """Take over `pending` (already committed) and return without waiting for Temporal."""
        for delivery in pending:
            self._waiting.setdefault(delivery.queue, []).append(delivery)
        if self._waiting and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain(), name="outbox-handover")

    async def sweep(self) -> int:
        """Hand over every row still pending: what a worker that died had not handed over
        (and, harmlessly, what is already queued). Answers how many were found."""
        async with self.sessions() as session:
            pending = await all_pending_deliveries(session)
        await self.dispatch(pending)
        return len(pending)

    async def idle(self) -> None:
        """Wait until everything taken over so far has been handed over."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Handover]:
        """Sweep once at the start; on the way out, finish what was taken over (a worker
        stopping gracefully leaves nothing for the next one's sweep)."""
        sweeping = asyncio.create_task(self.sweep(), name="outbox-sweep")
        try:
            yield self
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sweeping, 10)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.idle(), 10)

    async def _drain(self) -> None:
        limit = asyncio.Semaphore(PARALLEL_QUEUES)
        running: dict[str, asyncio.Task[None]] = {}
        while self._waiting or running:
            for queue in list(self._waiting):
                if queue not in running:
                    batch = sorted(self._waiting.pop(queue), key=lambda d: d.seq)
                    running[queue] = asyncio.create_task(self._hand(queue, batch, limit))
            if running:
                done, _ = await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
                for queue in [q for q, task in running.items() if task in done]:
                    del running[queue]

    async def _hand(
        self, queue: str, batch: list[PendingDelivery], limit: asyncio.Semaphore
    ) -> None:
        """One queue's deliveries, in order, each retried until Temporal takes it."""
        async with limit:
            for delivery in batch:
                wait = FIRST_RETRY
                while True:
                    try:
                        await self.dispatcher.dispatch([delivery])
                        break
                    except Exception as error:
                        log.warning(
                            "hand-over failed, retrying",
                            queue=queue,
                            delivery=delivery.id,
                            error=f"{type(error).__name__}: {error}"[:300],
                            retry_in=wait,
                        )
                        await asyncio.sleep(wait)
                        wait = min(wait * 2, MAX_RETRY)
