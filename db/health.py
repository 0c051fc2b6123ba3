"""Whether the database answers, for the health check."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def ping(engine: AsyncEngine, seconds: float) -> None:
    """`SELECT 1` on a connection of the pool, given `seconds` to answer; raises
    whatever the database, the driver or the timeout raise."""
    async with engine.connect() as conn:
        await asyncio.wait_for(conn.execute(text("SELECT 1")), seconds)
