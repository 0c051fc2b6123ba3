"""Activity failures by activity type: a worker interceptor around every activity attempt.

The SDK counts failures too (`temporal_activity_execution_failed`), by activity type only;
ours says which error, so a dashboard tells a carrier that is down from bad data."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from observability.metrics import ACTIVITY_FAILURES


def error_label(error: BaseException) -> str:
    """An `ApplicationError`'s type (ours name them: `WebhookNotAccepted`, `invalid_data`),
    else the exception's class: both are names in code, so the label set stays bounded."""
    if isinstance(error, ApplicationError) and error.type:
        return error.type
    return type(error).__name__


class ActivityMetrics(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountFailures(next)


class _CountFailures(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        # Exception only: a cancellation (CancelledError) and an activity to be completed
        # later by someone else (the SDK's async completion) are BaseExceptions, not failures.
        except Exception as error:
            ACTIVITY_FAILURES.labels(activity.info().activity_type, error_label(error)).inc()
            raise
