"""The read model's reader: where the API's bounded reads run.

On an SQLite file a body of reads runs right here, on the calling thread, through a
synchronous engine (`db.synchronous`): a read takes SQLite tens of microseconds, and
SQLAlchemy's asynchronous path around it was a third of the API's CPU per RMA created
(docs/benchmarks.md, "A thirteenth sitting"). In WAL mode a reader never waits for a
writer, so the event loop is held no longer than the reads take, as it already was for
the reads bounded by their keys (`db.session.POINT_READ`), which ran on the loop through
the asynchronous path. The reader's connections are opened `query_only`: a body that
writes is refused by SQLite.

Elsewhere (PostgreSQL, an in-memory SQLite) a body runs in the session the caller passes,
as it would without the reader. Reads of unbounded size (insights, exports) do not come
here: they stream through the asynchronous engine, off the event loop.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool

from db.session import HIDE_PARAMETERS, is_sqlite_file, sqlite_pragmas, sync_url
from db.synchronous import Body, run_body

T = TypeVar("T")


def _query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


class ReadModelReader:
    """Runs bodies of reads: synchronously on an SQLite file, else in the caller's session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        if is_sqlite_file(engine.url):
            synchronous = create_engine(
                sync_url(engine.url.render_as_string(hide_password=False)),
                # One connection per thread: a body runs to its end on the thread that asked.
                poolclass=SingletonThreadPool,
                hide_parameters=HIDE_PARAMETERS,
            )
            event.listen(synchronous, "connect", sqlite_pragmas)
            event.listen(synchronous, "connect", _query_only)
            self._engine = synchronous
            self._sessions = sessionmaker(synchronous, expire_on_commit=False)

    @property
    def engine(self) -> Engine | None:
        """The synchronous engine bodies run through on the calling thread, if any."""
        return self._engine

    async def read(self, body: Body[T], session: AsyncSession) -> T:
        """What `body` answers, its reads made synchronously here on an SQLite file, else in
        `session` (the request's own)."""
        if self._sessions is None:
            return await body(session)
        with self._sessions() as synchronous:
            return run_body(body, synchronous)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
