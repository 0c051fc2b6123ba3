"""Sending commands to a case's workflow: update-with-start for creation, updates after.

Both wait at most `decision_timeout_seconds`: past that the API answers 503
`decision_pending` (the command is in the workflow's hands and will still be applied),
rather than hold the connection while no worker runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from api import idempotency
from api.auth import Principal
from api.case_views import Viewer
from api.errors import Problem, decision_pending, invalid_transition
from api.idempotency import CommandKey
from db import models
from db.queries import CaseBundle, load_case_bundle
from domain.common import WORKFLOW_TASK_TIMEOUT
from settings import Settings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


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
    session: AsyncSession,
    org_id: str,
    case_id: str,
) -> T:
    """Start the workflow and get its first answer in one round trip. A retry with the same
    id attaches to the running workflow and gets the same answer.

    Attaching is by id alone, so an id that another organisation's case already holds would
    attach to that case: `org_id`'s ownership of `case_id` is checked before the start and
    again before answering (`case_id_collision`, never the other organisation's case)."""
    await idempotency.refuse_another_orgs_case(session, org_id, case_id)
    operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow,
        argument,
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        task_timeout=WORKFLOW_TASK_TIMEOUT,
    )
    try:
        answer: T = await asyncio.wait_for(
            client.execute_update_with_start_workflow(
                update, start_workflow_operation=operation, id=update, result_type=result_type
            ),
            settings.decision_timeout_seconds,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise decision_pending(pending_detail) from exc
    # Between the check above and the start, another organisation's request may have started
    # a case under the same id: the answer came from that case's workflow then.
    await idempotency.refuse_another_orgs_case(session, org_id, case_id)
    return answer


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
    key: CommandKey | None = None,
) -> T:
    """Run one update; `ended()` is the refusal when the workflow has already finished.
    With a `key`, its update id makes a retry attach to the first update's outcome."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await asyncio.wait_for(
            handle.execute_update(
                update, argument, id=key.update_id if key else None, result_type=result_type
            ),
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
    key: CommandKey | None = None,
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
        key=key,
    )


def command_key(
    key: str | None, principal: Principal | None, case: models.Case, command: str, body: Any
) -> CommandKey | None:
    """The `Idempotency-Key` of a command to `case`, from a key holder or (no principal)
    the customer holding the case's tracking token."""
    caller = "customer" if principal is None else f"{principal.kind.value}:{principal.org_id}"
    return idempotency.command_key(
        key, caller=caller, org_id=case.org_id, case_id=case.id, command=command, body=body
    )


async def answer_once(
    session: AsyncSession,
    key: CommandKey | None,
    answer_type: type[M],
    produce: Callable[[], Awaitable[M]],
) -> M:
    """Run a command (`produce` sends it and shapes the answer) at most once per key: a
    retry of an answered command gets the stored first answer back and reaches no
    workflow; concurrent retries all send the same update id and answer whichever answer
    was stored first, so every one of them says the same."""
    if key is None:
        return await produce()
    first = await idempotency.first_answer(session, key)
    if first is not None:
        return answer_type.model_validate(first)
    answer = await produce()
    stored = await idempotency.remember(session, key, answer.model_dump(mode="json"))
    return answer_type.model_validate(stored)


@dataclass(frozen=True)
class CaseCommands(Generic[M]):
    """How one case type's routes command it: the workflow's answer type, the actions its
    status allows (for the refusal once the workflow has ended), and the view a command
    answers with. Every case route sends its commands through `send`."""

    result_type: type[Any]
    allowed: Callable[[str], Sequence[str]]
    present: Callable[[CaseBundle, str, Viewer], M]
    answer_type: type[M]

    async def send(
        self,
        session: AsyncSession,
        client: Client,
        settings: Settings,
        principal: Principal,
        case: models.Case,
        update: str,
        argument: Any,
        action: str | None = None,
        *,
        key: str | None,
        body: BaseModel | None = None,
    ) -> M:
        """Send `update` (the `action` when several share one update, as approve and reject
        do) once per `Idempotency-Key`, and answer with the case as `principal` sees it."""
        command = command_key(key, principal, case, action or update, body)

        async def run() -> M:
            await command_case(
                client, settings, case, update, argument, self.result_type, self.allowed, command
            )
            await session.refresh(case)
            bundle = await load_case_bundle(session, case)
            return self.present(bundle, settings.public_base_url, Viewer.of(principal, case))

        return await answer_once(session, command, self.answer_type, run)
