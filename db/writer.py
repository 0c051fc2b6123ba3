"""The read model's writer: where the worker's workflow steps write their transactions.

On an SQLite file, each transaction runs on one thread of the writer's own, through a
synchronous engine: SQLAlchemy's asynchronous path costs about seven times the
synchronous one per statement (greenlet switches and the driver's thread hand-offs;
`bench/statement_cost.py`), and a step's transaction is several statements. One hand-off
to the writer's thread per transaction replaces two to four per transaction and the
asynchronous path per statement (docs/benchmarks.md, "A twelfth sitting"). The writer's
transactions run one at a time, under the process's write lock (`db.session.write_lock`),
so they queue with the process's other writers instead of meeting them in SQLite's busy
handler.

Elsewhere (PostgreSQL, whose driver is asynchronous anyway; an in-memory SQLite, which
one connection cannot share between threads) a transaction runs in an `AsyncSession` on
the caller's event loop, as every other write does.

A transaction's body is the same coroutine either way: it is handed a session and awaits
its `execute`, `scalar`, `scalars`, `get` and `flush`, and `ReadModelWriter.off_loop` for
CPU work, and nothing else (on the writer's thread it runs as `db.synchronous` runs a
body, with no event loop: a body that awaits the network or a sleep is refused, and its
transaction rolled back).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from db.session import HIDE_PARAMETERS, sqlite_pragmas, sync_url, write_lock
from db.synchronous import Body, run_body

T = TypeVar("T")
THREAD_NAME = "read-model-writer"


class _WriterThread:
    """One thread with one connection to the file, running one body at a time."""

    def __init__(self, url: URL) -> None:
        self.engine: Engine = create_engine(
            sync_url(url.render_as_string(hide_password=False)),
            poolclass=StaticPool,
            hide_parameters=HIDE_PARAMETERS,
        )
        event.listen(self.engine, "connect", sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        self.thread: threading.Thread | None = None

    def run(self, body: Body[T]) -> tuple[T, dict[str, Any]]:
        self.thread = threading.current_thread()
        with self.sessions.begin() as session:
            answer = run_body(body, session)
        return answer, session.info

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.engine.dispose()


class ReadModelWriter:
    """Runs write transactions: on its own thread for an SQLite file, else on the caller's
    loop. `transaction` answers what the body answered and the session's `info` (what the
    transaction noted for after its commit, `db.projection.stored_first`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, own_thread: bool) -> None:
        self.sessions = sessions
        engine = cast(AsyncEngine, sessions.kw["bind"])
        database = engine.url.database
        self._own_thread = (
            own_thread
            and engine.dialect.name == "sqlite"
            and database not in (None, "", ":memory:")
        )
        self._url = engine.url
        self._thread: _WriterThread | None = None
        self._lock = write_lock(engine) if self._own_thread else None
        self._started = threading.Lock()

    @classmethod
    def for_worker(cls, sessions: async_sessionmaker[AsyncSession]) -> ReadModelWriter:
        """The worker's: on a thread of its own where the database is an SQLite file."""
        return cls(sessions, own_thread=True)

    @classmethod
    def on_loop(cls, sessions: async_sessionmaker[AsyncSession]) -> ReadModelWriter:
        """Every transaction in an `AsyncSession` on the caller's loop."""
        return cls(sessions, own_thread=False)

    async def transaction(self, body: Body[T]) -> tuple[T, dict[str, Any]]:
        if self._lock is None:
            async with self.sessions.begin() as session:
                answer = await body(session)
            return answer, session.info
        async with self._lock():
            writer = self._writer_thread()
            return await asyncio.get_running_loop().run_in_executor(
                writer.executor, writer.run, body
            )

    async def off_loop(self, work: Callable[[], T]) -> T:
        """CPU work inside a body (rendering): on the writer's thread it runs there, the
        caller's loop being free already; on the caller's loop, in a thread of its own."""
        if self._thread is not None and threading.current_thread() is self._thread.thread:
            return work()
        return await asyncio.to_thread(work)

    def _writer_thread(self) -> _WriterThread:
        with self._started:
            if self._thread is None:
                self._thread = _WriterThread(self._url)
            return self._thread

    def close(self) -> None:
        with self._started:
            if self._thread is not None:
                self._thread.close()
                self._thread = None
