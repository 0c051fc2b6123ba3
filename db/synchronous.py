"""A read-model body run synchronously: the coroutine the asynchronous path would await,
handed a synchronous `Session` whose calls are answered at once, and driven to its end
without an event loop.

The read model's code is written once, against `AsyncSession` (PostgreSQL's driver is
asynchronous). On an SQLite file SQLAlchemy's asynchronous path costs several times the
synchronous one per statement (greenlet switches and the driver's thread hand-offs;
`bench/statement_cost.py`), so the writer (`db.writer`) and the reader
(`db.read_model_reader`) run the same bodies here instead. A body may await its session's
`execute`, `scalar`, `scalars`, `get` and `flush`, and nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

T = TypeVar("T")
Body = Callable[[AsyncSession], Awaitable[T]]


class AnsweredSession:
    """The session a body gets: a synchronous `Session`, each call answered at once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.info = session.info

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.scalars(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.get(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        self._session.flush(*args, **kwargs)

    def add(self, instance: object) -> None:
        self._session.add(instance)


def run_body(body: Body[T], session: Session) -> T:
    """`body` against `session`, to its end on this thread."""
    # Duck-typed: the calls the read model's code makes, answered synchronously.
    return complete(body(cast(AsyncSession, AnsweredSession(session))))


def complete(step: Awaitable[T]) -> T:
    """Run a body's coroutine to its end on this thread, with no event loop: every await in
    it is answered at once, so it never yields. One that does waits on something this
    thread cannot give (the network, a sleep, another loop's future) and is refused."""
    coroutine = step.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise RuntimeError("a synchronous read model body awaited something besides its session")
