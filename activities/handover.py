"""The hand-over: outbox rows go to their delivery queues from the worker process, off the
workflow task that wrote them.

A projection commits its timeline entries with their webhook deliveries and emails (the
outbox, `db.outbox`) and passes what it wrote here; it returns at once, and the workflow
task goes on without waiting for Temporal round trips. `Handover` signals-with-start the
delivery queues in the background: what waits for one queue goes in one signal, in
timeline order, and each row is then marked `handed_over_at`.

Nothing is lost: the rows are durable before they are passed here; a hand-over that fails
(Temporal unreachable) is retried with backoff; a worker that dies with hand-overs still in
memory leaves its rows pending and unmarked, and every live worker's sweep (every
`SWEEP_EVERY` seconds) claims the rows it has seen unmarked for `ORPHAN_AFTER` seconds and
hands them over. Nothing is sent twice: a queue ignores a delivery it already holds (by id
and round), and an attempt on a delivery no longer pending sends nothing; the claim
(row locks on PostgreSQL, the mark itself on SQLite) keeps two sweeping workers from
handing the same rows over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.outbox import Dispatches, PendingDelivery, claim, mark_handed_over, not_handed_over
from db.types import utcnow

log = structlog.get_logger(__name__)

FIRST_RETRY = 0.2  # seconds
MAX_RETRY = 10.0
# Queues handed over at once: each is a signal-with-start round trip.
PARALLEL_QUEUES = 16
SWEEP_EVERY = 2.0  # seconds
# A row its own worker has not marked by then was left by a worker that died (or is one
# whose hand-over is still being retried: a second hand-over is harmless).
ORPHAN_AFTER = 5.0
# Rows looked at per sweep and table; a larger backlog drains over the next sweeps.
SWEEP_LIMIT = 500


class Handover:
    def __init__(
        self,
        dispatcher: Dispatches,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dispatcher = dispatcher
        self.sessions = sessions
        self.clock = clock
        self._waiting: dict[str, list[PendingDelivery]] = {}
        # Taken over by this worker and not marked yet: never the sweep's to claim.
        self._mine: set[str] = set()
        self._handed: list[PendingDelivery] = []
        # id -> when a sweep first saw it unmarked (this worker's clock: no clocks compared).
        self._unmarked_since: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._marking: asyncio.Task[None] | None = None

    async def dispatch(self, pending: list[PendingDelivery]) -> None:
        """Take over `pending` (already committed) and return without waiting for Temporal."""
        for delivery in pending:
            if delivery.id in self._mine:
                continue  # a retried projection passing on again what is on its way
            self._mine.add(delivery.id)
            self._waiting.setdefault(delivery.queue, []).append(delivery)
        if self._waiting and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain(), name="outbox-handover")

    async def sweep(self) -> int:
        """One pass: claim the rows seen unmarked for `ORPHAN_AFTER` that are not this
        worker's own, hand them over and mark them, in one transaction (a failure leaves
        them for the next pass). Answers how many were handed over."""
        async with self.sessions() as session:
            unmarked = await not_handed_over(session, SWEEP_LIMIT)
        now = self.clock()
        self._unmarked_since = {i: self._unmarked_since.get(i, now) for i in unmarked}
        due = [
            i
            for i, since in self._unmarked_since.items()
            if now - since >= ORPHAN_AFTER and i not in self._mine
        ]
        if not due:
            return 0
        async with self.sessions.begin() as session:
            claimed = await claim(session, due)
            await self._signal(claimed)
            await mark_handed_over(session, claimed, utcnow())
        for delivery in claimed:
            self._unmarked_since.pop(delivery.id, None)
        if claimed:
            log.info("handed over what another worker left", deliveries=len(claimed))
        return len(claimed)

    async def idle(self) -> None:
        """Wait until everything taken over so far has been handed over and marked."""
        for attr in ("_task", "_marking"):
            while (task := getattr(self, attr)) is not None and not task.done():
                await asyncio.shield(task)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Handover]:
        """Sweep every `SWEEP_EVERY` seconds while the worker runs; on the way out, finish
        what was taken over (a worker stopping gracefully leaves nothing behind)."""
        sweeping = asyncio.create_task(self._sweep_forever(), name="outbox-sweep")
        try:
            yield self
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.idle(), 10)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as error:
                log.warning("outbox sweep failed", error=f"{type(error).__name__}: {error}"[:300])
            await asyncio.sleep(SWEEP_EVERY)

    async def _signal(self, deliveries: list[PendingDelivery]) -> None:
        """Hand `deliveries` over, queues in parallel; raises if any hand-over failed."""
        queues: dict[str, list[PendingDelivery]] = {}
        for delivery in deliveries:
            queues.setdefault(delivery.queue, []).append(delivery)
        limit = asyncio.Semaphore(PARALLEL_QUEUES)

        async def one(batch: list[PendingDelivery]) -> None:
            async with limit:
                await self.dispatcher.dispatch(batch)

        await asyncio.gather(*(one(batch) for batch in queues.values()))

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
        """One queue's waiting deliveries in one signal, retried until Temporal takes it."""
        wait = FIRST_RETRY
        async with limit:
            while True:
                try:
                    await self.dispatcher.dispatch(batch)
                    break
                except Exception as error:
                    log.warning(
                        "hand-over failed, retrying",
                        queue=queue,
                        deliveries=len(batch),
                        error=f"{type(error).__name__}: {error}"[:300],
                        retry_in=wait,
                    )
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, MAX_RETRY)
        self._handed.extend(batch)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark(), name="outbox-mark")

    async def _mark(self) -> None:
        """Mark what was handed over, all that finished meanwhile in one transaction. A
        mark that fails leaves the rows to a sweep, which hands them over again (harmless)."""
        while self._handed:
            batch, self._handed = self._handed, []
            try:
                async with self.sessions.begin() as session:
                    await mark_handed_over(session, batch, utcnow())
            except Exception as error:
                log.warning("hand-over not marked", error=f"{type(error).__name__}: {error}"[:300])
            finally:
                self._mine.difference_update(d.id for d in batch)
