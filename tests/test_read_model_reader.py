"""The read model's reader (`db.read_model_reader`): the API's bounded reads made
synchronously on the calling thread for an SQLite file, seeing what other connections
committed, refusing to write; elsewhere made in the caller's own session."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from db.read_model_reader import ReadModelReader
from db.session import make_engine, make_sessionmaker

_METADATA = MetaData()
_ROWS = Table("rows", _METADATA, Column("id", Integer, primary_key=True), Column("v", String))


async def _engine(url: str) -> AsyncEngine:
    # The read model's engine for a file; SQLAlchemy's own (one shared connection) in memory.
    engine = create_async_engine(url) if ":memory:" in url else make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_METADATA.create_all)
        await connection.execute(insert(_ROWS), {"id": 1, "v": "a"})
    return engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _engine(f"sqlite+aiosqlite:///{tmp_path}/reader.db")
    yield engine
    await engine.dispose()


@pytest.fixture
def reader(engine: AsyncEngine) -> Iterator[ReadModelReader]:
    reader = ReadModelReader(engine)
    yield reader
    reader.close()


async def _values(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(_ROWS.c.v).order_by(_ROWS.c.id)))


async def test_reads_run_on_the_calling_thread_and_see_what_others_committed(
    engine: AsyncEngine, reader: ReadModelReader
) -> None:
    assert reader.engine is not None
    threads: list[int] = []

    @event.listens_for(reader.engine, "before_cursor_execute")
    def note(*_: Any) -> None:
        threads.append(threading.get_ident())

    async with make_sessionmaker(engine)() as request_session:
        assert await reader.read(_values, request_session) == ["a"]
        # Committed through the asynchronous engine (the worker, say): the next read sees it.
        async with engine.begin() as connection:
            await connection.execute(insert(_ROWS), {"id": 2, "v": "b"})
        assert await reader.read(_values, request_session) == ["a", "b"]
        # The request's own session never ran a statement: the reads went through the reader.
        assert not request_session.in_transaction()
    assert threads and set(threads) == {threading.get_ident()}


async def test_a_body_that_writes_is_refused_and_stores_nothing(
    engine: AsyncEngine, reader: ReadModelReader
) -> None:
    async def writes(session: AsyncSession) -> None:
        await session.execute(insert(_ROWS), {"id": 3, "v": "c"})

    async with make_sessionmaker(engine)() as session:
        with pytest.raises(OperationalError, match="readonly"):
            await reader.read(writes, session)
        assert await _values(session) == ["a"]


async def test_a_body_that_awaits_anything_else_is_refused(
    engine: AsyncEngine, reader: ReadModelReader
) -> None:
    async def sleeps(session: AsyncSession) -> list[str]:
        await asyncio.sleep(0.01)
        return await _values(session)

    async with make_sessionmaker(engine)() as session:
        with pytest.raises(RuntimeError, match="besides its session"):
            await reader.read(sleeps, session)


async def test_a_refusal_raised_by_a_body_reaches_the_caller(
    engine: AsyncEngine, reader: ReadModelReader
) -> None:
    async def refuses(session: AsyncSession) -> None:
        if await _values(session):
            raise LookupError("not in the catalog")

    async with make_sessionmaker(engine)() as session:
        with pytest.raises(LookupError, match="not in the catalog"):
            await reader.read(refuses, session)


async def test_without_a_file_a_body_reads_in_the_callers_session() -> None:
    engine = await _engine("sqlite+aiosqlite:///:memory:")
    reader = ReadModelReader(engine)
    try:
        assert reader.engine is None
        async with make_sessionmaker(engine)() as session:
            given: list[AsyncSession] = []

            async def body(handed: AsyncSession) -> list[str]:
                given.append(handed)
                return await _values(handed)

            assert await reader.read(body, session) == ["a"]
            assert given == [session]
    finally:
        reader.close()
        await engine.dispose()
