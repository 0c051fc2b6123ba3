"""What one statement costs the worker: CPU per transaction of three statements (a point
read, two inserts) on the read model's SQLite engine, through an ORM `AsyncSession`,
through an `AsyncConnection`, through the read model's writer (`db.writer`: a synchronous
`Session` on a thread of its own, one hand-off per transaction), through a synchronous
`Connection` on the calling thread, and through the standard library's `sqlite3` alone.
Then what a read costs the API: three point reads through an `AsyncSession` (by the
driver's thread, and on the event loop as `POINT_READ`) and through the read model's
reader (`db.read_model_reader`: a synchronous `Session` on the calling thread).

    .venv/bin/python bench/statement_cost.py [--transactions 2000] [--rounds 3]

A diagnostic, not a target: it tells which lever is worth pulling. The three ways run in
alternating rounds in this one process (CPU by time.process_time, the driver's thread
included); each round writes rows of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.read_model_reader import ReadModelReader
from db.session import POINT_READ, make_engine, make_sessionmaker, sqlite_pragmas
from db.writer import ReadModelWriter

_METADATA = MetaData()
_ROWS = Table("rows", _METADATA, Column("id", Integer, primary_key=True), Column("v", String))
_INSERT = insert(_ROWS)
_READ = select(_ROWS.c.v).where(_ROWS.c.id == bindparam("id"))
_POINT_READ = _READ.execution_options(**POINT_READ)
_SPAN = 10**6  # the second insert's id offset: one round's rows never meet another's


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/orm.db")
        async with engine.begin() as connection:
            await connection.run_sync(_METADATA.create_all)
        sessions = make_sessionmaker(engine)
        writer = ReadModelWriter.for_worker(sessions)
        synchronous = create_engine(f"sqlite:///{tmp}/sync.db")
        event.listen(synchronous, "connect", sqlite_pragmas)
        _METADATA.create_all(synchronous)
        raw = sqlite3.connect(f"{tmp}/raw.db", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, v TEXT)")

        async def via_session(i: int) -> None:
            async with sessions.begin() as session:
                await session.execute(_READ, {"id": i})
                await session.execute(_INSERT, {"id": i, "v": "a"})
                await session.execute(_INSERT, {"id": i + _SPAN, "v": "b"})

        async def via_connection(i: int) -> None:
            async with engine.begin() as connection:
                await connection.execute(_READ, {"id": i})
                await connection.execute(_INSERT, {"id": i, "v": "a"})
                await connection.execute(_INSERT, {"id": i + _SPAN, "v": "b"})

        async def in_writer(session: AsyncSession, i: int) -> None:
            (await session.execute(_READ, {"id": i})).all()
            await session.execute(_INSERT, {"id": i, "v": "a"})
            await session.execute(_INSERT, {"id": i + _SPAN, "v": "b"})

        async def via_writer(i: int) -> None:
            await writer.transaction(lambda session: in_writer(session, i))

        async def via_sync_connection(i: int) -> None:
            with synchronous.begin() as connection:
                connection.execute(_READ, {"id": i}).all()
                connection.execute(_INSERT, {"id": i, "v": "a"})
                connection.execute(_INSERT, {"id": i + _SPAN, "v": "b"})

        async def via_sqlite3(i: int) -> None:
            raw.execute("BEGIN")
            raw.execute("SELECT v FROM rows WHERE id = ?", (i,)).fetchall()
            raw.execute("INSERT INTO rows (id, v) VALUES (?, ?)", (i, "a"))
            raw.execute("INSERT INTO rows (id, v) VALUES (?, ?)", (i + _SPAN, "b"))
            raw.execute("COMMIT")

        ways: dict[str, Callable[[int], Awaitable[None]]] = {
            "AsyncSession": via_session,
            "AsyncConnection": via_connection,
            "the read model's writer": via_writer,
            "synchronous Connection": via_sync_connection,
            "sqlite3 alone": via_sqlite3,
        }
        reader = ReadModelReader(engine)

        async def three_reads(session: AsyncSession, i: int, statement: Any = _READ) -> None:
            for k in range(3):
                (await session.execute(statement, {"id": i + k})).all()

        async def reads_by_thread(i: int) -> None:
            async with sessions() as session:
                await three_reads(session, i)

        async def reads_on_loop(i: int) -> None:
            async with sessions() as session:
                await three_reads(session, i, _POINT_READ)

        async def reads_by_reader(i: int) -> None:
            async with sessions() as session:
                await reader.read(lambda synchronous: three_reads(synchronous, i), session)

        reads: dict[str, Callable[[int], Awaitable[None]]] = {
            "AsyncSession, by the driver's thread": reads_by_thread,
            "AsyncSession, POINT_READ on the loop": reads_on_loop,
            "the read model's reader": reads_by_reader,
        }
        spent = dict.fromkeys([*ways, *reads], 0.0)
        block = 0
        for _ in range(args.rounds):
            for name, way in [*ways.items(), *reads.items()]:
                block += 1
                start = time.process_time()
                for i in range(args.transactions):
                    await way(block * 10 * _SPAN + i)
                spent[name] += time.process_time() - start
        reader.close()
        writer.close()
        synchronous.dispose()
        await engine.dispose()
        raw.close()
    count = args.rounds * args.transactions
    for name, seconds in spent.items():
        what = "3 point reads" if name in reads else "transaction of 3 statements"
        print(f"{name}: {1000 * seconds / count:.3f} ms of CPU per {what}")


if __name__ == "__main__":
    asyncio.run(main())
