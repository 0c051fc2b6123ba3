"""Heartbeats for activities that can run for many seconds (a webhook POST, an SMTP
conversation): Temporal notices a worker that died in the middle of one within
HEARTBEAT_TIMEOUT and retries it elsewhere, instead of waiting out the attempt's whole
start-to-close timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity

from domain.contracts.notify import HEARTBEAT_TIMEOUT

# Several beats per timeout, so one late beat on a busy event loop is not a lost attempt.
HEARTBEAT_EVERY = HEARTBEAT_TIMEOUT / 5


@contextlib.asynccontextmanager
async def heartbeating(every: timedelta = HEARTBEAT_EVERY) -> AsyncIterator[None]:
    """Heartbeat the current activity while the block runs (nothing outside an activity:
    the adapters are also called directly)."""
    if not activity.in_activity():
        yield
        return

    async def beat() -> None:
        # The first beat after `every`, not at once: the heartbeat timeout runs from the
        # attempt's start anyway, and a block done sooner (most webhook POSTs) costs no
        # heartbeat round trip to Temporal.
        while True:
            await asyncio.sleep(every.total_seconds())
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
