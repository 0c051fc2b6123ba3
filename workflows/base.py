"""Shared workflow plumbing: activity options and the invalid-transition refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from domain.common import INVALID_DATA

# Read-model writes and renders are quick and touch only our own database and CPU, so they
# run as local activities: no round trip through the Temporal server per step (the dev
# server has one history shard, and each saved round trip is throughput). They retry for as
# long as it takes, since a case must never stop because the database blinked.
# A read-model write takes milliseconds; past a few seconds the connection is stuck and a
# fresh attempt does better than waiting on it.
QUICK_TIMEOUT = timedelta(seconds=5)
# Rendering and storing a PDF is CPU work of well under a second, given room for a worker
# whose cores are busy with other cases.
RENDER_TIMEOUT = timedelta(seconds=10)
QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    # Data the database refuses (too long, a NUL, out of range) fails the same way every
    # time: the step ends at once and the workflow decides what that means for its case.
    non_retryable_error_types=[INVALID_DATA],
    # About a day of attempts at the one-minute interval: long enough to ride out a database
    # outage, finite so that an unforeseen error that can never heal ends the step (and
    # shows as a failed workflow to reset) instead of retrying for ever.
    maximum_attempts=1500,
)
# A carrier booking or a payment is one HTTP call that answers in about a second. An attempt
# in flight on a worker that died is only retried once this has passed, so it bounds how
# long a crash holds a case up: minutes here made cases wait minutes after a restart.
EXTERNAL_TIMEOUT = timedelta(seconds=10)
# A local activity that calls out (a carrier booking) retries in the worker, holding its
# workflow task, only for backoffs up to this; longer ones wait on a durable timer.
LOCAL_RETRY_THRESHOLD = timedelta(seconds=1)
EXTERNAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["PaymentDeclined", INVALID_DATA],
)


def refusal(code: str, message: str, details: dict[str, Any] | None = None) -> ApplicationError:
    """What a validator raises to refuse a command: the API answers it with `code` (its
    stable problem code), `message` and, when given, `details`."""
    return ApplicationError(
        message, *([details] if details is not None else []), type=code, non_retryable=True
    )


def invalid_transition(action: str, status: str, allowed: tuple[str, ...]) -> ApplicationError:
    """The refusal of a command the case's state does not allow: 409 `invalid_transition`."""
    details = {"current_status": status, "allowed": list(allowed)}
    return refusal("invalid_transition", f"cannot {action} while {status}", details)


Failed = TypeVar("Failed", bound=ActivityError)


def failed_as_activity(
    error_type: type[Failed], activity_type: str, message: str, cause: BaseException
) -> Failed:
    """An error raised as an activity's failure is (`cause` its cause), for one that did not
    arrive as one: every path that takes the activity's failure takes it."""
    error = error_type(
        message,
        scheduled_event_id=0,
        started_event_id=0,
        identity="",
        activity_type=activity_type,
        activity_id="",
        retry_state=None,
    )
    error.__cause__ = cause
    return error
