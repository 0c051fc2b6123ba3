"""Recording a new case, and what its workflow does when the case cannot be stored."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.store import NewCase, StoreActivities
    from domain.common import INVALID_DATA
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT

# Before this patch such a workflow retried its first step for ever and its creator waited
# on a 503 `decision_pending` that never turned into an answer.
UNRECORDABLE_PATCH = "unrecordable-case-refused"


async def record_new_case(new: NewCase) -> str | None:
    """Store the new case. Answer None once stored, or why the database refuses its data for
    good: then nothing was stored, and the workflow answers its first update with
    `unrecordable(...)` and ends failed with the same error."""
    try:
        await workflow.execute_local_activity_method(
            StoreActivities.record_case,
            new,
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
    except (ActivityError, ApplicationError) as error:
        # A local activity's non-retryable failure may arrive bare or wrapped.
        cause = error.cause if isinstance(error, ActivityError) else error
        if not (isinstance(cause, ApplicationError) and cause.type == INVALID_DATA):
            raise
        if not workflow.patched(UNRECORDABLE_PATCH):
            raise
        workflow.logger.warning("case %s cannot be stored: %s", new.case_id, cause.message)
        return cause.message
    return None


def unrecordable(reason: str) -> ApplicationError:
    """The refusal of a case whose data cannot be stored (the API answers 422 `invalid_data`)."""
    return ApplicationError(
        f"{workflow.info().workflow_id} cannot be stored: {reason}",
        type=INVALID_DATA,
        non_retryable=True,
    )
