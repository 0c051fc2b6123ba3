"""Starting a case from another: a child workflow that outlives its parent.

The start input comes from `domain.contracts.starts`; the child is a case of its own, so it
is abandoned (never cancelled) when its parent closes, and a parent that cares awaits its
handle for the result.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.common import WORKFLOW_TASK_TIMEOUT, start_memo
    from domain.ids import repair_workflow_id, replacement_workflow_id
    from domain.repair import REPAIR_WORKFLOW, RepairResult, RepairStart
    from domain.replacement import REPLACEMENT_WORKFLOW, ReplacementResult, ReplacementStart
    from workflows.patches import CHILD_ENDED_PATCH, patched


Status = TypeVar("Status", bound=StrEnum, covariant=True)


class EndedCase(Protocol[Status]):
    """A child case's result as its parent reads it: the status the case ended in."""

    @property
    def status(self) -> Status: ...


@dataclass(frozen=True)
class EndedWithoutResult:
    """A child case that ended with no result: an operator terminated it, it failed or it
    timed out. `cause` names what ended it."""

    cause: str


async def ended(child: Awaitable[EndedCase[Status]]) -> EndedCase[Status] | EndedWithoutResult:
    """The child case's result once it ends, or how it ended without one."""
    try:
        return await child
    except ChildWorkflowError as error:
        # Histories from before this handling failed the parent here: replay them as such.
        if not patched(CHILD_ENDED_PATCH):
            raise
        return EndedWithoutResult(type(error.cause).__name__ if error.cause else "unknown")


async def start_repair(start: RepairStart) -> ChildWorkflowHandle[Any, RepairResult]:
    """Start the repair job as a case of its own."""
    return await workflow.start_child_workflow(
        REPAIR_WORKFLOW,
        start,
        id=repair_workflow_id(start.repair_id),
        result_type=RepairResult,
        parent_close_policy=ParentClosePolicy.ABANDON,
        task_timeout=WORKFLOW_TASK_TIMEOUT,
        memo=start_memo(),
    )


async def start_replacement(
    start: ReplacementStart,
) -> ChildWorkflowHandle[Any, ReplacementResult]:
    """Start the replacement as a case of its own."""
    return await workflow.start_child_workflow(
        REPLACEMENT_WORKFLOW,
        start,
        id=replacement_workflow_id(start.replacement_id),
        result_type=ReplacementResult,
        parent_close_policy=ParentClosePolicy.ABANDON,
        task_timeout=WORKFLOW_TASK_TIMEOUT,
        memo=start_memo(),
    )
