"""Sending commands to a case's workflow: update-with-start for creation, updates after.

Both wait at most `decision_timeout_seconds`: past that the API answers 503
`decision_pending` (the command is in the workflow's hands and will still be applied),
rather than hold the connection while no worker runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem, decision_pending, invalid_transition
from db import models
from settings import Settings

T = TypeVar("T")


async def start_with_update(
    client: Client,
    settings: Settings,
    *,
    workflow: str,
    argument: Any,
    workflow_id: str,
    update: str,
    result_type: type[T],
    pending_detail: str,
) -> T:
    """Start the workflow and get its first answer in one round trip. A retry with the same
    id attaches to the running workflow and gets the same answer."""
    operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow,
        argument,
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    try:
        return await asyncio.wait_for(
            client.execute_update_with_start_workflow(
                update, start_workflow_operation=operation, id=update, result_type=result_type
            ),
            settings.decision_timeout_seconds,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise decision_pending(pending_detail) from exc


async def send_update(
    client: Client,
    settings: Settings,
    *,
    workflow_id: str,
    update: str,
    argument: Any,
    result_type: type[T],
    pending_detail: str,
    ended: Callable[[], Problem],
) -> T:
    """Run one update; `ended()` is the refusal when the workflow has already finished."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await asyncio.wait_for(
            handle.execute_update(update, argument, result_type=result_type),
            settings.decision_timeout_seconds,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise decision_pending(pending_detail) from exc
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        raise ended() from exc


async def command_case(
    client: Client,
    settings: Settings,
    case: models.Case,
    update: str,
    argument: Any,
    result_type: type[T],
    allowed: Callable[[str], Sequence[str]],
) -> T:
    """Send a command to a case's workflow. Once the workflow has ended, every command is
    out of order: 409 `invalid_transition` with the status the read model holds."""
    current = case.status
    return await send_update(
        client,
        settings,
        workflow_id=case.workflow_id,
        update=update,
        argument=argument,
        result_type=result_type,
        pending_detail=f"the command to {case.id} was handed to its workflow, which has not "
        "answered yet",
        ended=lambda: invalid_transition(
            f"{case.case_type} {case.id} is {current}", current, list(allowed(current))
        ),
    )
