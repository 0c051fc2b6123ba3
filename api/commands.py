"""Sending commands to a case's workflow: update-with-start for creation, updates after.

Both wait at most `decision_timeout_seconds`: past that the API answers 503
`decision_pending` (the command is in the workflow's hands and will still be applied),
rather than hold the connection while no worker runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Generic, TypeVar

import structlog
from fastapi import Depends
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
from api.case_access import CaseRef, TokenRef
from api.case_views import Viewer
from api.deps import Reads, Resources, ResourcesDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, decision_pending, invalid_transition
from api.idempotency import CommandKey, IdempotencyKey
from db import models
from db.projection import recorded_cases
from db.queries import CaseBundle, load_case_view
from db.read_model_reader import ReadModelReader
from db.secret_box import SecretBox
from domain.common import WORKFLOW_TASK_TIMEOUT, start_memo
from settings import Settings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
A = TypeVar("A", bound=BaseModel)

log = structlog.get_logger(__name__)


async def _start_with_update(
    client: Client,
    settings: Settings,
    *,
    workflow: str,
    argument: Any,
    workflow_id: str,
    update: str,
    pending_detail: str,
) -> None:
    """Start the workflow and wait for its first answer in one round trip (the answer is in
    the read model then). A retry with the same id attaches to the running workflow."""
    operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow,
        argument,
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        task_timeout=WORKFLOW_TASK_TIMEOUT,
        memo=start_memo(),
    )
    try:
        await asyncio.wait_for(
            client.execute_update_with_start_workflow(
                update, start_workflow_operation=operation, id=update
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
    *,
    pending_detail: str | None = None,
    ended_detail: Callable[[str], str] | None = None,
) -> T:
    """Send a command to a case's workflow. Once the workflow has ended, every command is
    out of order: 409 `invalid_transition` with the status the read model holds (in words
    of `ended_detail`, if given, of that status)."""
    current = case.status
    return await send_update(
        client,
        settings,
        workflow_id=case.workflow_id,
        update=update,
        argument=argument,
        result_type=result_type,
        pending_detail=pending_detail
        or f"the command to {case.id} was handed to its workflow, which has not answered yet",
        ended=lambda: invalid_transition(
            ended_detail(current) if ended_detail else f"{case.case_type} {case.id} is {current}",
            current,
            list(allowed(current)),
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


def setup_command_key(
    key: str | None, principal: Principal, command: str, body: Any, org_id: str | None = None
) -> CommandKey | None:
    """The `Idempotency-Key` of a command to an organisation's setup (its stock, plan
    catalog, repair network or profile, a webhook delivery; its users and keys), which names
    no case. Filed under that organisation (`org_id`; the caller's own unless an admin or the
    organisation's key names another), so the key sent again with another of these commands,
    or with another body (`body` carries the path's names too), is `idempotency_conflict`."""
    owner = principal.owner_id if org_id is None else org_id
    return idempotency.command_key(
        key,
        caller=f"{principal.kind.value}:{principal.org_id or ''}",
        org_id=owner,
        case_id=owner,
        command=command,
        body=body,
    )


def fingerprinted(body: BaseModel, box: SecretBox, *secrets: str) -> dict[str, Any]:
    """`body` as an `Idempotency-Key`'s record hashes it, each of its `secrets` fields (a
    password, a provider's key) replaced by the box's keyed fingerprint: a bare hash of a
    body would let a guessed password be tested against the record offline."""
    shown = body.model_dump(mode="json")
    for name in secrets:
        if isinstance(value := shown.get(name), str):
            shown[name] = box.fingerprint(value)
    return shown


async def answer_once(
    session: AsyncSession,
    key: CommandKey | None,
    answer_type: type[M],
    produce: Callable[[], Awaitable[M]],
    *,
    kept: Callable[[M], dict[str, Any]] | None = None,
    replay: Callable[[dict[str, Any]], Awaitable[M]] | None = None,
) -> M:
    """Run a command that no workflow dedupes (`produce` does it and shapes the answer) at
    most once per key: one request with the key at a time runs it; a retry, or a request
    arriving while another holds the key, gets the first answer back (or, when the holder
    has not answered within seconds, 409 `idempotency_key_in_use`). A command that fails
    gives the key back, so the same request again runs it.

    An answer holding a secret is never stored: `kept(answer)` is what the record keeps
    instead (no secret), and `replay(kept)` the answer to a retry, from where the secret
    itself is kept (encrypted), or a refusal."""
    if key is None:
        return await produce()
    held = await idempotency.answer_or_lease(session, key)
    if not isinstance(held, idempotency.Lease):
        return await replay(held) if replay else answer_type.model_validate(held)
    try:
        answer = await produce()
    except BaseException:
        await _give_back(session, held)
        raise
    record = kept(answer) if kept else answer.model_dump(mode="json")
    stored = await idempotency.remember(session, key, record)
    if replay is None:
        return answer_type.model_validate(stored)
    return answer if stored == record else await replay(stored)


async def _give_back(session: AsyncSession, lease: idempotency.Lease) -> None:
    """Release the key of a failed command. If that fails too (the database gone), the
    command's own error is the answer, and the hold lapses after its lease."""
    try:
        await idempotency.release(session, lease)
    except Exception:
        log.warning("idempotency key not released", exc_info=True)


async def answer_case_command_once(
    session: AsyncSession,
    key: CommandKey | None,
    answer_type: type[M],
    produce: Callable[[], Awaitable[M]],
) -> M:
    """Run a command to a case's workflow (`produce` sends it and shapes the answer) at
    most once per key: a retry of an answered command gets the stored first answer back
    and reaches no workflow; concurrent retries all send the same update id, which
    Temporal dedupes, and answer whichever answer was stored first, so every one of them
    says the same."""
    if key is None:
        return await produce()
    first = await idempotency.first_answer(session, key)
    if first is not None:
        return answer_type.model_validate(first)
    answer = await produce()
    stored = await idempotency.remember(session, key, answer.model_dump(mode="json"))
    return answer_type.model_validate(stored)


# A child case (a plan claim's repair or replacement, an inspected RMA's repair) is recorded
# by its own workflow's first task, moments after its parent started it: an answer naming
# one waits this long for it, so the id it gives can be read at once. A child no worker has
# run yet (workers down) is still answered: it appears when one runs it.
CHILD_RECORDED_WITHIN = 10.0


async def children_recorded(commands: Commands, case_ids: Iterable[str | None]) -> None:
    """Wait (briefly, see CHILD_RECORDED_WITHIN) until the named child cases are in the read
    model. Reads only: no write lock is held while the child's worker writes it."""
    pending = {case_id for case_id in case_ids if case_id}
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + CHILD_RECORDED_WITHIN, 0.01
    while pending:
        pending -= await commands.reads(partial(recorded_cases, case_ids=sorted(pending)))
        if not pending or loop.time() >= deadline:
            return
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)


@dataclass(frozen=True)
class Commands:
    """What commanding a case takes, from one request: its session, the Temporal client,
    the settings, the `Idempotency-Key` it sent, and the read model's reader."""

    session: AsyncSession
    client: Client
    settings: Settings
    key: str | None
    reader: ReadModelReader

    @classmethod
    async def of(cls, res: Resources, session: AsyncSession, key: str | None) -> Commands:
        """A page's or a form's commands: the request's session under `key`."""
        return cls(session, await res.temporal(), res.settings, key, res.reader)

    @property
    def reads(self) -> Reads:
        """The request's bounded reads: `await commands.reads(body)` answers what `body`
        answers, read through the read model's reader (`db.read_model_reader`, synchronous
        on an SQLite file), else in the request's session. A body that writes is refused."""
        return Reads(self.session, self.reader)


async def commands_dep(
    res: ResourcesDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Commands:
    return Commands(session, client, settings, idempotency_key, res.reader)


CommandsDep = Annotated[Commands, Depends(commands_dep)]


@dataclass(frozen=True)
class CaseCommands(Generic[M]):
    """How one case type is created, commanded and shown: the workflow's answer type, the
    actions its status allows (for the refusal once the workflow has ended), and its view
    (`present`, per viewer). Every case route goes through here: `start` creates, `send`
    commands and answers with the case, `ask` commands and answers with what the workflow
    said."""

    result_type: type[Any]
    allowed: Callable[[str], Sequence[str]]
    present: Callable[[CaseBundle, str, Viewer], M]
    answer_type: type[M]

    def show(self, bundle: CaseBundle, principal: Principal, settings: Settings) -> M:
        return self.present(bundle, settings.public_base_url, Viewer.of(principal, bundle.case))

    async def detail(self, ref: CaseRef, settings: Settings) -> M:
        """The case a GET names, if the caller may see it (else 404)."""
        return self.show(await ref.view(), ref.principal, settings)

    async def view(self, commands: Commands, principal: Principal, case_id: str) -> M:
        """The case as it is now, read afresh (its workflow may just have written it), once
        the cases it links to are recorded: the command may just have started one (an
        inspected RMA's repair), and the id the answer gives must open at once."""
        bundle = await commands.reads(lambda session: load_case_view(session, case_id))
        assert bundle is not None, "a case is recorded before its workflow answers"
        if bundle.case.links:
            await children_recorded(commands, bundle.case.links.values())
        return self.show(bundle, principal, commands.settings)

    async def start(
        self,
        commands: Commands,
        principal: Principal,
        *,
        case_id: str,
        workflow: str,
        argument: Any,
        workflow_id: str,
        update: str,
        pending_detail: str,
    ) -> M:
        """Start the case's workflow and answer with the case once it has decided.

        Attaching is by id alone, so an id that another organisation's case already holds
        would attach to that case: the owner of `case_id` is checked before the start and
        again on the case read for the answer (`case_id_collision`, never the other
        organisation's case)."""
        session, org_id = commands.session, principal.owner_id
        if await commands.reads(lambda s: idempotency.held_elsewhere(s, org_id, case_id)):
            await idempotency.refuse_another_orgs_case(session, org_id, case_id)
        await _start_with_update(
            commands.client,
            commands.settings,
            workflow=workflow,
            argument=argument,
            workflow_id=workflow_id,
            update=update,
            pending_detail=pending_detail,
        )
        bundle = await commands.reads(lambda s: load_case_view(s, case_id))
        assert bundle is not None, "a case is recorded before its workflow answers"
        if bundle.case.org_id != org_id:
            # Another organisation's request started a case under the same id between the
            # check above and the start: the answer came from that case's workflow.
            await idempotency.refuse_another_orgs_case(session, org_id, case_id)
        return self.show(bundle, principal, commands.settings)

    async def ask(
        self,
        commands: Commands,
        ref: CaseRef | TokenRef,
        update: str,
        argument: Any,
        answer_type: type[A],
        answer: Callable[[Any], Awaitable[A]],
        *,
        result_type: type[Any] | None = None,
        action: str | None = None,
        body: BaseModel | dict[str, Any] | None = None,
        to: Callable[[models.Case], Awaitable[models.Case]] | None = None,
        pending_detail: str | None = None,
        ended_detail: Callable[[str], str] | None = None,
    ) -> A:
        """Send `update` (the `action` when several share one update, as approve and reject
        do) once per `Idempotency-Key`, and answer with `answer` of the workflow's result
        (`result_type`, this case type's answer type unless said). The case is opened
        first: 404 or 403 when the caller may not command it.

        The key is the caller's for the case opened; the command goes to that case, or to
        the case `to` finds from it (which may refuse by raising): a customer's token opens
        their RMA, and their answer to a quote goes to the repair the RMA started.
        `pending_detail` and `ended_detail` word the 503 and the 409 for the caller."""
        access = await ref.open()
        key = command_key(commands.key, access.principal, access.case, action or update, body)

        async def run() -> A:
            target = access.case if to is None else await to(access.case)
            result = await command_case(
                commands.client,
                commands.settings,
                target,
                update,
                argument,
                result_type or self.result_type,
                self.allowed,
                key,
                pending_detail=pending_detail,
                ended_detail=ended_detail,
            )
            return await answer(result)

        return await answer_case_command_once(commands.session, key, answer_type, run)

    async def send(
        self,
        commands: Commands,
        ref: CaseRef,
        update: str,
        argument: Any,
        action: str | None = None,
        *,
        body: BaseModel | None = None,
    ) -> M:
        """`ask`, answered with the case as the caller sees it once the command is applied."""

        async def the_case(_: Any) -> M:
            return await self.view(commands, ref.principal, ref.case_id)

        return await self.ask(
            commands, ref, update, argument, self.answer_type, the_case, action=action, body=body
        )
