"""The stack's read model, opened directly: for what the API has no endpoint for (emails,
offer links, stored amounts)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import make_engine, make_sessionmaker
from tests.support import Stack

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(stack: Stack) -> AsyncIterator[Sessions]:
    engine = make_engine(stack.settings.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
