"""The read model's writer: where the worker's workflow steps write their transactions.

Each transaction runs on a thread of the writer's own, through a synchronous engine:
SQLAlchemy's asynchronous path costs several times the synchronous one per statement
(greenlet switches and, on SQLite, the driver's thread hand-offs; `bench/statement_cost.py`),
and a step's transaction is several statements. One hand-off to a writer thread per
transaction replaces the asynchronous path per statement (docs/benchmarks.md, "A twelfth
sitting", and "A fourteenth sitting" for PostgreSQL).

- On an SQLite file, one thread with one connection runs the transactions one at a time,
  under the process's write lock (`db.session.write_lock`), so they queue with the process's
  other writers instead of meeting them in SQLite's busy handler.
- On PostgreSQL, `POSTGRES_THREADS` threads share a pool of as many connections and run
  their transactions side by side, as the event loop's sessions did: the database orders
  them (the rows they lock, the constraints they meet), not the writer.
- An in-memory SQLite (one connection that threads cannot share) and `on_loop` run each
  transaction in an `AsyncSession` on the caller's event loop, as every other write does.

A transaction's body is the same coroutine either way: it is handed a session and awaits
its `execute`, `scalar`, `scalars`, `get` and `flush`, and `ReadModelWriter.off_loop` for
CPU work, and nothing else (on a writer thread it runs as `db.synchronous` runs a body, with
no event loop: a body that awaits the network or a sleep is refused, and its transaction
rolled back).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from db.session import HIDE_PARAMETERS, is_sqlite_file, sqlite_pragmas, sync_url, write_lock
from db.synchronous import Body, run_body

T = TypeVar("T")
THREAD_NAME = "read-model-writer"


# A worker's steps write in as many transactions at once on PostgreSQL: its local
# activities and activities that write rarely number more than this at a time.
POSTGRES_THREADS = 8


class _WriterThreads:
    """The threads that run the bodies, each through a connection of the writer's engine:
    one thread and one connection for an SQLite file, `POSTGRES_THREADS` of each else."""

    def __init__(self, url: URL) -> None:
        synchronous = sync_url(url.render_as_string(hide_password=False))
        if is_sqlite_file(url):
            threads = 1
            self.engine: Engine = create_engine(
                synchronous, poolclass=StaticPool, hide_parameters=HIDE_PARAMETERS
            )
            event.listen(self.engine, "connect", sqlite_pragmas)
        else:
            threads = POSTGRES_THREADS
            self.engine = create_engine(
                synchronous,
                pool_size=threads,
                max_overflow=0,
                pool_pre_ping=True,
                hide_parameters=HIDE_PARAMETERS,
            )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._local = threading.local()
        self.executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=THREAD_NAME, initializer=self._mark
        )

    def _mark(self) -> None:
        self._local.writing = True

    def run(self, body: Body[T]) -> tuple[T, dict[str, Any]]:
        with self.sessions.begin() as session:
            answer = run_body(body, session)
        return answer, session.info

    def on_a_writer_thread(self) -> bool:
        return bool(getattr(self._local, "writing", False))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.engine.dispose()


class ReadModelWriter:
    """Runs write transactions: on threads of its own (see the module), else on the
    caller's loop. `transaction` answers what the body answered and the session's `info`
    (what the transaction noted for after its commit, `db.projection.stored_first`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, own_thread: bool) -> None:
        self.sessions = sessions
        engine = cast(AsyncEngine, sessions.kw["bind"])
        sqlite_file = is_sqlite_file(engine.url)
        in_memory = engine.dialect.name == "sqlite" and not sqlite_file
        self._own_thread = own_thread and not in_memory
        self._url = engine.url
        self._thread: _WriterThreads | None = None
        # SQLite has one writer at a time: the writer queues with the process's others.
        self._lock = write_lock(engine) if self._own_thread and sqlite_file else None
        self._started = threading.Lock()

    @classmethod
    def for_worker(cls, sessions: async_sessionmaker[AsyncSession]) -> ReadModelWriter:
        """The worker's: on threads of its own, except for an in-memory SQLite."""
        return cls(sessions, own_thread=True)

    @classmethod
    def on_loop(cls, sessions: async_sessionmaker[AsyncSession]) -> ReadModelWriter:
        """Every transaction in an `AsyncSession` on the caller's loop."""
        return cls(sessions, own_thread=False)

    async def transaction(self, body: Body[T]) -> tuple[T, dict[str, Any]]:
        if not self._own_thread:
            async with self.sessions.begin() as session:
                answer = await body(session)
            return answer, session.info
        async with self._lock() if self._lock is not None else contextlib.nullcontext():
            writer = self._writer_threads()
            return await asyncio.get_running_loop().run_in_executor(
                writer.executor, writer.run, body
            )

    async def off_loop(self, work: Callable[[], T]) -> T:
        """CPU work inside a body (rendering): on a writer thread it runs there, the
        caller's loop being free already; on the caller's loop, in a thread of its own."""
        if self._thread is not None and self._thread.on_a_writer_thread():
            return work()
        return await asyncio.to_thread(work)

    def _writer_threads(self) -> _WriterThreads:
        with self._started:
            if self._thread is None:
                self._thread = _WriterThreads(self._url)
            return self._thread

    def close(self) -> None:
        with self._started:
            if self._thread is not None:
                self._thread.close()
                self._thread = None
