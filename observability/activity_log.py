"""One log line per activity, and the case it works for on every line it writes.

A worker interceptor: around each activity it binds `case_id`, `workflow_id`, `activity`
and `attempt` in structlog's context variables (each activity runs in its own task, so
they never leak into another's lines), and writes `activity` with the outcome and the
duration when it ends."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import is_cancelled_exception
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

log = structlog.get_logger("aftersales.activity")

# The last segment of a case's workflow id (`rma:RMA-2026-…`) or a delivery queue's
# (`webhooks:<subscription>:RMA-2026-…`, `emails:RMA-2026-…`).
_CASE_ID = re.compile(r"[A-Z]{3}-\d{4}(?:-[0-9A-Z]{1,8})+")


def case_id_of(workflow_id: str | None) -> str | None:
    if not workflow_id:
        return None
    last = workflow_id.rsplit(":", 1)[-1]
    return last if _CASE_ID.fullmatch(last) else None


class ActivityLogContext(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        fields: dict[str, Any] = {"activity": info.activity_type, "attempt": info.attempt}
        if info.workflow_id:
            fields["workflow_id"] = info.workflow_id
        case_id = case_id_of(info.workflow_id)
        if case_id:
            fields["case_id"] = case_id
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(**fields):
            try:
                result = await super().execute_activity(input)
            except (Exception, asyncio.CancelledError) as exc:
                outcome = "cancelled" if is_cancelled_exception(exc) else "failed"
                # The type only: the message can quote what the activity was given.
                log.warning(
                    "activity",
                    outcome=outcome,
                    error=type(exc).__name__,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
                raise
            log.info(
                "activity",
                outcome="completed",
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return result
