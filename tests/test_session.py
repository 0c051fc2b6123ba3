"""SQLite engines: a process's writers queue on its write lock, not in SQLite's busy handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from db import session as db_session
from db.session import make_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/lock.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    yield engine
    await engine.dispose()


def _lock(engine: AsyncEngine) -> asyncio.Lock:
    assert engine.url.database is not None
    return db_session._write_lock(str(Path(engine.url.database).resolve()))


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def test_a_second_writer_waits_for_the_first_to_commit(engine: AsyncEngine) -> None:
    first_wrote, second_done = asyncio.Event(), asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            first_wrote.set()
            await release_first.wait()
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    async def second() -> None:
        await first_wrote.wait()
        async with engine.begin() as conn:
            # Reads need no lock: the first writer's rows are not visible yet.
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
            await conn.execute(text("INSERT INTO t VALUES (3)"))
        second_done.set()

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_wrote.wait()
    # Far past SQLite's first busy-handler sleeps: the second writer still waits, on the
    # process's lock, and nothing failed.
    await asyncio.sleep(0.3)
    assert not second_done.is_set()
    assert _lock(engine).locked()
    release_first.set()
    await asyncio.gather(*tasks)
    assert not _lock(engine).locked()
    assert await _count(engine) == 3


async def test_a_failed_transaction_gives_the_lock_up(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("the caller's own failure")
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))
            await conn.execute(text("INSERT INTO t VALUES (2)"))
    async with engine.begin() as conn:
        await asyncio.wait_for(conn.execute(text("INSERT INTO t VALUES (3)")), 5)
    assert not _lock(engine).locked()
    assert await _count(engine) == 1


async def test_a_writer_waiting_past_the_busy_timeout_is_told_the_database_is_locked(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "BUSY_TIMEOUT_SECONDS", 0.2)
    async with engine.begin() as holder:
        await holder.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.begin() as waiter:
            with pytest.raises(OperationalError, match="database is locked"):
                await waiter.execute(text("INSERT INTO t VALUES (2)"))
    assert await _count(engine) == 1


async def test_many_writers_at_once_all_commit(engine: AsyncEngine) -> None:
    async def write(n: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            await asyncio.sleep(0)
            await conn.execute(text("UPDATE t SET n = n WHERE n = :n"), {"n": n})

    await asyncio.gather(*(write(n) for n in range(100)))
    assert await _count(engine) == 100


async def test_rows_stream_through_the_cursor(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (:n)"), [{"n": n} for n in range(300)])
    sent = count_hops(monkeypatch)
    async with engine.connect() as conn:
        rows = await conn.stream(text("SELECT n FROM t ORDER BY n"))
        assert [row.n async for row in rows] == list(range(300))
    # Fetched a batch at a time as they were asked for, not all with the statement.
    assert sent[0] == "_run_and_read" and sent.count("fetchmany") > 1


def count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the name of each call sent to a connection's thread, in order."""
    sent: list[str] = []
    to_thread: Any = db_session._Connection._execute

    async def counted(self: db_session._Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", "?"))
        return await to_thread(self, fn, *args, **kwargs)

    monkeypatch.setattr(db_session._Connection, "_execute", counted)
    return sent


async def test_a_write_transaction_goes_to_the_thread_for_its_first_write_and_commit_only(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = count_hops(monkeypatch)
    async with engine.begin() as conn:
        await conn.execute(text("SELECT count(*) FROM t"))
        # A read is one hop: the statement and its rows.
        assert sent == ["_run_and_read"]
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        await conn.execute(text("INSERT INTO t VALUES (:n)"), [{"n": 2}, {"n": 3}])
        await conn.execute(text("UPDATE t SET n = 4 WHERE n = 1"))
        assert (await conn.execute(text("SELECT sum(n) FROM t"))).scalar_one() == 9
    assert sent == ["_run_and_read", "_run_and_read", "commit"]
    assert await _count(engine) == 3


async def test_a_point_read_runs_on_the_event_loop_and_other_reads_in_the_thread(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (:n)"), [{"n": n} for n in range(5)])
    sent = count_hops(monkeypatch)
    point = text("SELECT n FROM t WHERE n = :n").execution_options(**db_session.POINT_READ)
    async with engine.connect() as conn:
        assert (await conn.execute(point, {"n": 3})).scalar_one() == 3
        assert sent == []
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 5
        assert sent == ["_run_and_read"]
        # The mark is the statement's, not the connection's: the next point read is on the
        # loop again, and a plain read after it goes to the thread.
        assert (await conn.execute(point, {"n": 4})).scalar_one() == 4
        assert (await conn.execute(text("SELECT max(n) FROM t"))).scalar_one() == 4
        assert sent == ["_run_and_read", "_run_and_read"]
