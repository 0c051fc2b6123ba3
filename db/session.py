"""Engines and sessions: one async engine per process, plus the sync URL Alembic uses."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_


def async_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(async_url(url))
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite_file(url: URL) -> bool:
    """Whether the database is an SQLite file (not in memory, not another backend): one
    that connections on several threads share."""
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if is_sqlite_file(parsed) and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


# How long a writer waits for the database before "database is locked": SQLite's busy
# handler (another process's write) and this process's write lock alike.
BUSY_TIMEOUT_SECONDS = 30.0


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer writes; synchronous=NORMAL does not fsync each
    # commit in WAL mode (only checkpoints), and a commit is never torn; busy_timeout queues
    # a writer behind another process's write instead of failing it.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# SQLite has one writer at a time. Left to SQLite, a process's writers that find the
# database locked each sleep in the busy handler (1, 2, 5 ... then 100 ms steps) and poll:
# the lock sits idle while they sleep, and each sleeper holds a pooled connection. Measured
# in bench/start_rate.py (32 RMAs in flight), the worker's first write of a transaction
# waited 140 ms on average (up to 4 s) for a lock that each transaction held 3-22 ms, and
# the write lock bounded the RMA rate. So a process queues its own writers on an asyncio
# lock per database file, taken at a transaction's first write statement (pysqlite begins
# the transaction there, reads before it run outside any transaction) and given up when
# the connection goes back to the pool (after its COMMIT or ROLLBACK): the next writer
# goes at once, and the busy handler only ever waits on another process.
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_HOLDS = "aftersales_write_lock"
_write_locks: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    WeakKeyDictionary()
)


def _write_lock(database: str) -> asyncio.Lock:
    """The write lock of `database` in this process (per event loop: a lock belongs to one)."""
    locks = _write_locks.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(database, asyncio.Lock())


async def _acquire(lock: asyncio.Lock) -> None:
    async with asyncio.timeout(BUSY_TIMEOUT_SECONDS):
        await lock.acquire()


def write_lock(engine: AsyncEngine) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Holding the process's write lock of `engine`'s SQLite file, for a writer that does not
    go through `engine` (`db.writer`): it then queues with the engine's writers."""
    database = str(Path(engine.url.database or "").resolve())

    @asynccontextmanager
    async def held() -> AsyncIterator[None]:
        lock = _write_lock(database)
        try:
            await _acquire(lock)
        except TimeoutError:
            raise OperationalError(
                None, None, sqlite3.OperationalError("database is locked")
            ) from None
        try:
            yield
        finally:
            lock.release()

    return held


# The execution option of a read bounded by keys (a case and its rows, a page of cases): on
# SQLite it runs on the event loop, not in the connection's thread. In WAL mode a reader
# never waits for the write lock, and such a read takes well under a millisecond, less than
# the hop to the thread and back costs. Reads of unbounded size (insights, exports) go
# through the thread, where SQLite works while the event loop goes on.
POINT_READ = {"aftersales_point_read": True}


def _mark_statement(
    _conn: Connection,
    cursor: Any,
    _statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    """Tell the cursor how to run the statement: a `POINT_READ` on the event loop, and a
    streamed one (`stream_results`) without reading all its rows at once."""
    options = context.execution_options if context is not None else {}
    cursor._cursor.on_loop = bool(options.get("aftersales_point_read"))
    cursor._cursor.read_at_once = not options.get("stream_results")


def _queue_writers(engine: AsyncEngine, database: str) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _take(
        conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if _HOLDS in conn.info or not _WRITE.match(statement):
            return
        lock = _write_lock(database)
        try:
            # SQLAlchemy runs this event in its greenlet: await_ suspends it on the event
            # loop as it does for every statement it sends.
            await_(_acquire(lock))
        except TimeoutError:
            raise OperationalError(
                statement, parameters, sqlite3.OperationalError("database is locked")
            ) from None
        conn.info[_HOLDS] = lock

    def _give_up(_dbapi_connection: Any, record: ConnectionPoolEntry, *_: Any) -> None:
        lock = record.info.pop(_HOLDS, None)
        if lock is not None:
            lock.release()

    # Back in the pool, the connection's transaction is over (the pool rolls back whatever
    # was not committed); an invalidated connection's is too.
    event.listen(engine.sync_engine.pool, "checkin", _give_up)
    event.listen(engine.sync_engine.pool, "invalidate", _give_up)
    event.listen(engine.sync_engine.pool, "soft_invalidate", _give_up)


class _Cursor(aiosqlite.Cursor):
    _conn: _Connection
    # The rows of the statement last executed, read in the same hop: SQLAlchemy reads every
    # row of a statement that returns rows as soon as it has run, and each call would be a
    # hop of its own. `fetchone` and `fetchmany` take from the front.
    _read: list[Any] | None = None
    # Set before each statement: a `POINT_READ` runs here, on the event loop; a streamed
    # statement's rows are fetched as SQLAlchemy asks for them, a batch at a time.
    on_loop = False
    read_at_once = True

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.on_loop or (self._conn.writing and self._conn._conn.in_transaction):
            return fn(*args, **kwargs)
        return await self._conn._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    async def execute(self, sql: str, parameters: Any = None) -> aiosqlite.Cursor:
        self._read = await self._execute(self._run_and_read, sql, parameters or ())
        self._conn.note(sql)
        return self

    def _run_and_read(self, sql: str, parameters: Any) -> list[Any] | None:
        self._cursor.execute(sql, parameters)
        if not self.read_at_once or not self._cursor.description:
            return None
        return self._cursor.fetchall()

    async def fetchall(self) -> list[Any]:
        if self._read is None:
            return list(await super().fetchall())
        rows, self._read = self._read, None
        return rows

    async def fetchone(self) -> Any:
        if self._read is None:
            return await super().fetchone()
        return self._read.pop(0) if self._read else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._read is None:
            return list(await super().fetchmany(size))
        count = self._cursor.arraysize if size is None else size
        rows, self._read = self._read[:count], self._read[count:]
        return rows

    async def executemany(self, sql: str, parameters: Any) -> aiosqlite.Cursor:
        self._read = None
        await super().executemany(sql, parameters)
        self._conn.note(sql)
        return self

    async def close(self) -> None:
        # Closing a sqlite3 cursor only resets its statement.
        self._read = None
        self._cursor.close()


class _Connection(aiosqlite.Connection):
    """aiosqlite with fewer thread hops. SQLAlchemy opens a cursor, executes, fetches and
    closes it for every statement, and aiosqlite sends each step to the connection's
    thread; on a busy worker each hop waits its turn on the event loop (1-2.5 ms measured),
    and a write transaction holds SQLite's one write lock through all of them (9-22 hops,
    17-22 ms per transaction: the lock bounded the RMA rate).

    So a cursor is made and closed here (a sqlite3 cursor is a plain object until it
    executes; the connection is opened with check_same_thread=False and sqlite3 serializes
    its calls), and once this connection has written in its transaction, the statements
    up to its COMMIT or ROLLBACK run right here too. They cannot wait on a lock: this
    connection holds the write lock, and in WAL mode nothing blocks a reader. What may
    wait still goes through the thread: a transaction's first write (another process may
    hold the lock), every statement outside a write transaction, and the COMMIT (it may
    checkpoint the WAL, which writes and syncs the database file)."""

    writing = False

    def note(self, sql: str) -> None:
        """`sql` has run: from a write on, the transaction holds the write lock."""
        if not self.writing and _WRITE.match(sql) and self._conn.in_transaction:
            self.writing = True

    def cursor(self) -> Any:
        return _Made(_Cursor(self, self._conn.cursor()))

    # Outside a transaction sqlite3 does nothing for either; the pool rolls back every
    # connection it takes back, most of them read-only or committed already.
    async def commit(self) -> None:
        self.writing = False
        if self._conn.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        self.writing = False
        if self._conn.in_transaction:
            await super().rollback()


class _Made:
    """What SQLAlchemy awaits `cursor()` through: `async with` / `await` give the cursor."""

    def __init__(self, cursor: _Cursor) -> None:
        self._made = cursor

    async def __aenter__(self) -> _Cursor:
        return self._made

    async def __aexit__(self, *_: object) -> None:
        await self._made.close()

    def __await__(self) -> Generator[Any, None, _Cursor]:
        return self.__aenter__().__await__()


def _connector(url: URL) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """Opens `_Connection`s with the arguments SQLAlchemy's aiosqlite dialect would pass."""
    args, kwargs = url.get_dialect()().create_connect_args(url)

    async def connect() -> aiosqlite.Connection:
        connection = _Connection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
        # As SQLAlchemy's dialect does: an unclosed connection must not keep a process alive.
        connection._thread.daemon = True
        return await connection

    return connect


# A statement's error message quotes its parameters (a tracking token, a customer's
# address), and errors reach the logs and the activity failures: they say which statement
# failed, never with what.
HIDE_PARAMETERS = True


def make_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    ensure_sqlite_dir(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A pooled SQLite connection is a file handle and a thread; a request holds its
        # connection while it waits for a workflow's answer, so the pool is sized for many
        # requests in flight (the default 5 + 10 had 32 concurrent RMA creations wait ~1 s
        # each for a connection), and kept: a connection beyond `pool_size` is closed on its
        # return, and opening one costs a thread and its pragmas.
        engine = create_async_engine(
            url,
            pool_size=64,
            max_overflow=64,
            async_creator=_connector(parsed),
            hide_parameters=HIDE_PARAMETERS,
        )
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        event.listen(engine.sync_engine, "before_cursor_execute", _mark_statement)
        if is_sqlite_file(parsed) and parsed.database:
            _queue_writers(engine, str(Path(parsed.database).resolve()))
        return engine
    return create_async_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=HIDE_PARAMETERS
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
