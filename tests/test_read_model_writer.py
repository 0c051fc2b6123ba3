"""The read model's writer (`db.writer`): the worker's step transactions on threads of their
own, committed or rolled back whole; for an SQLite file one at a time, queued with the
process's other writers; on PostgreSQL side by side."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from db.session import make_engine, make_sessionmaker
from db.writer import POSTGRES_THREADS, THREAD_NAME, ReadModelWriter

_METADATA = MetaData()
_ROWS = Table(
    "writer_test_rows", _METADATA, Column("id", Integer, primary_key=True), Column("v", String)
)
_COUNTERS = Table(
    "writer_test_counters", _METADATA, Column("id", Integer, primary_key=True), Column("n", Integer)
)


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/writer.db"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_METADATA.create_all)
        await connection.execute(insert(_COUNTERS), {"id": 1, "n": 0})
    yield make_sessionmaker(engine)
    async with engine.begin() as connection:
        await connection.run_sync(_METADATA.drop_all)
    await engine.dispose()


def _on_postgres(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return bool(sessions.kw["bind"].dialect.name == "postgresql")


@pytest.fixture
async def writer(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[ReadModelWriter]:
    writer = ReadModelWriter.for_worker(sessions)
    yield writer
    writer.close()


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> dict[int, str]:
    async with sessions() as session:
        return {row.id: row.v for row in await session.execute(select(_ROWS))}


async def test_a_transaction_runs_on_the_writers_thread_and_commits(
    writer: ReadModelWriter, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async def body(session: AsyncSession) -> str:
        await session.execute(insert(_ROWS), [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
        session.info["noted"] = ["first"]
        return threading.current_thread().name

    ran_on, noted = await writer.transaction(body)

    assert ran_on.startswith(THREAD_NAME)
    assert ran_on != threading.current_thread().name
    assert noted == {"noted": ["first"]}
    assert await _stored(sessions) == {1: "a", 2: "b"}


async def test_a_failed_transaction_stores_nothing_and_says_why(
    writer: ReadModelWriter, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await writer.transaction(lambda s: s.execute(insert(_ROWS), {"id": 1, "v": "kept"}))

    async def clashes(session: AsyncSession) -> None:
        await session.execute(insert(_ROWS), {"id": 2, "v": "rolled back"})
        await session.execute(insert(_ROWS), {"id": 1, "v": "clash"})

    with pytest.raises(IntegrityError):
        await writer.transaction(clashes)
    assert await _stored(sessions) == {1: "kept"}
    # The writer goes on after a failure.
    await writer.transaction(lambda s: s.execute(insert(_ROWS), {"id": 3, "v": "after"}))
    assert await _stored(sessions) == {1: "kept", 3: "after"}


async def test_transactions_at_once_lose_no_update(
    writer: ReadModelWriter, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Each reads the counter and writes it plus one: run one at a time, none is lost, and
    the engine's own writers in the same process queue with them instead of failing."""
    if _on_postgres(sessions):
        pytest.skip("on PostgreSQL transactions run side by side: the database orders them")

    async def increment(session: AsyncSession) -> None:
        n = (await session.execute(select(_COUNTERS.c.n).where(_COUNTERS.c.id == 1))).scalar_one()
        await session.execute(update(_COUNTERS).where(_COUNTERS.c.id == 1).values(n=n + 1))

    async def engine_write(i: int) -> None:
        async with sessions.begin() as session:
            await session.execute(insert(_ROWS), {"id": 100 + i, "v": "engine"})

    await asyncio.gather(
        *(writer.transaction(increment) for _ in range(40)),
        *(engine_write(i) for i in range(20)),
    )

    async with sessions() as session:
        assert await session.scalar(select(_COUNTERS.c.n)) == 40
    assert len(await _stored(sessions)) == 20


async def test_work_off_the_loop_runs_on_the_writers_thread_inside_a_transaction(
    writer: ReadModelWriter,
) -> None:
    loop_thread = threading.current_thread()

    async def body(_session: AsyncSession) -> tuple[str, str]:
        inside = await writer.off_loop(lambda: threading.current_thread().name)
        return inside, threading.current_thread().name

    (inside, body_thread), _ = await writer.transaction(body)
    assert inside == body_thread
    assert body_thread.startswith(THREAD_NAME)
    # Outside a transaction, off the caller's loop all the same.
    outside = await writer.off_loop(lambda: threading.current_thread())
    assert outside is not loop_thread


async def test_without_a_file_transactions_run_on_the_callers_loop(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    memory = create_async_engine("sqlite+aiosqlite://")
    async with memory.begin() as connection:
        await connection.run_sync(_METADATA.create_all)
    on_loop = ReadModelWriter.for_worker(make_sessionmaker(memory))
    here = threading.current_thread().name

    async def body(session: AsyncSession) -> str:
        await session.execute(insert(_ROWS), {"id": 1, "v": "memory"})
        return threading.current_thread().name

    assert (await on_loop.transaction(body))[0] == here
    async with memory.connect() as connection:
        assert (await connection.execute(select(_ROWS.c.v))).scalar_one() == "memory"
    await memory.dispose()


async def test_a_closed_writer_starts_again_when_asked(
    writer: ReadModelWriter, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async def before(session: AsyncSession) -> threading.Thread:
        await session.execute(insert(_ROWS), {"id": 1, "v": "before"})
        return threading.current_thread()

    first, _ = await writer.transaction(before)
    writer.close()
    assert not first.is_alive()
    await writer.transaction(lambda s: s.execute(insert(_ROWS), {"id": 2, "v": "after"}))
    assert await _stored(sessions) == {1: "before", 2: "after"}


@pytest.mark.parametrize("pause", [0, 0.01], ids=["yields", "needs a loop"])
async def test_a_transaction_that_waits_on_anything_else_is_refused_and_stores_nothing(
    writer: ReadModelWriter, sessions: async_sessionmaker[AsyncSession], pause: float
) -> None:
    """A body may await its session and nothing else: on the writer's thread there is no
    event loop to wait on (the network, a sleep)."""

    async def waits(session: AsyncSession) -> None:
        await session.execute(insert(_ROWS), {"id": 1, "v": "never"})
        await asyncio.sleep(pause)

    with pytest.raises(RuntimeError, match=r"besides its session|no running event loop"):
        await writer.transaction(waits)
    assert await _stored(sessions) == {}


async def test_on_postgres_transactions_run_side_by_side(
    writer: ReadModelWriter, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Each body waits, inside its open transaction, until all of them are inside theirs:
    one at a time, as on SQLite, the first would wait for ever."""
    if not _on_postgres(sessions):
        pytest.skip("an SQLite file has one writer at a time")
    inside = threading.Barrier(POSTGRES_THREADS, timeout=10)

    def writes(i: int) -> Callable[[AsyncSession], Awaitable[str]]:
        async def body(session: AsyncSession) -> str:
            await session.execute(insert(_ROWS), {"id": i, "v": "side by side"})
            inside.wait()
            return threading.current_thread().name

        return body

    answers = await asyncio.gather(
        *(writer.transaction(writes(i)) for i in range(POSTGRES_THREADS))
    )
    assert len({name for name, _ in answers}) == POSTGRES_THREADS
    assert all(name.startswith(THREAD_NAME) for name, _ in answers)
    assert len(await _stored(sessions)) == POSTGRES_THREADS
