"""Telling bad data from a bad moment: an activity whose data the database refuses fails
for good (`invalid_data`, never retried), while a lost connection is retried as before."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from temporalio.exceptions import ApplicationError

from domain.common import INVALID_DATA

P = ParamSpec("P")
R = TypeVar("R")

# Long enough to name the column and the problem, short enough for workflow history.
_MESSAGE_LIMIT = 300


def classify(error: BaseException) -> ApplicationError | None:
    """The non-retryable failure `error` stands for, or None when a retry may succeed.

    A `StatementError` that is not a `DBAPIError` failed while binding a value (a naive
    datetime, a string where a number goes); `DBAPIError`s other than data and integrity
    errors (lost connections, timeouts, deadlocks) are transient."""
    if isinstance(error, DataError | IntegrityError) or (
        isinstance(error, StatementError) and not isinstance(error, DBAPIError)
    ):
        reason = error.orig
    elif isinstance(error, ValueError | OverflowError):
        reason = error
    else:
        return None
    # The database's own words, never the statement's parameters (customer data).
    words = str(reason).strip().splitlines()
    message = f"{type(reason).__name__}: {words[0] if words else ''}"[:_MESSAGE_LIMIT]
    return ApplicationError(message, type=INVALID_DATA, non_retryable=True)


def refuses_bad_data(
    run: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Wrap an activity so that data the database can never store ends it at once."""

    @functools.wraps(run)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await run(*args, **kwargs)
        except Exception as error:
            failure = classify(error)
            if failure is None:
                raise
            # Not `from error`: the statement's error carries its parameters (customer data),
            # and a cause would be copied into workflow history.
            raise failure from None

    return wrapper
