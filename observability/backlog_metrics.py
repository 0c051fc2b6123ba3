"""The outbox's depth and the age of the oldest pending webhook delivery, read from the
database when the worker's /metrics is scraped.

Read at scrape time rather than kept by the relay: the database is the truth whichever
worker wrote or handed over a row, and a worker that died leaves nothing stale behind.
The read has a short timeout and is shared by scrapes that come within `MIN_INTERVAL` of
each other (several Prometheus servers, a dashboard refreshing), so the database sees at
most one read per interval per worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.backlog import oldest_pending_webhook, outbox_depth
from db.types import utcnow
from observability.metrics import BACKLOG_READ_FAILURES, OUTBOX_DEPTH, WEBHOOK_OLDEST_PENDING

log = structlog.get_logger(__name__)

READ_TIMEOUT = 2.0  # seconds
MIN_INTERVAL = 10.0  # seconds between two reads
DEPTH_CAP = 100_000


class BacklogGauges:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.min_interval = min_interval
        self.clock = clock
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Bring the gauges up to date, unless read within `min_interval` seconds. A failed
        or slow read keeps the last values and counts a failure: the scrape still answers."""
        async with self._lock:
            now = self.clock()
            if self._read_at is not None and now - self._read_at < self.min_interval:
                return
            self._read_at = now
            try:
                async with asyncio.timeout(READ_TIMEOUT), self.sessions() as session:
                    depth = await outbox_depth(session, DEPTH_CAP)
                    oldest = await oldest_pending_webhook(session)
            except Exception as error:  # the scrape must answer whatever the database does
                BACKLOG_READ_FAILURES.inc()
                log.warning("backlog metrics not read", error=type(error).__name__)
                return
        for channel, rows in depth.items():
            OUTBOX_DEPTH.labels(channel).set(rows)
        age = 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
        WEBHOOK_OLDEST_PENDING.set(age)
