"""How the technician's pages command a case: through the JSON API's own route functions
(`api.routes.repairs`, `api.routes.relocations`), with the console user's principal and the
form's nonce as the `Idempotency-Key`, so there is one command path, one idempotency layer
and one set of refusals. A refusal comes back as words for the page, never as a 500."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.auth import OrgKind
from api.commands import Commands
from api.console.session import ConsoleUser, ConsoleUserDep, RoleRefused
from api.deps import AsyncSession, Resources
from api.errors import Problem, from_update_failure, temporal_unavailable
from presentation.formatting import humanise


async def _worker(user: ConsoleUserDep) -> ConsoleUser:
    """A user of a repair center (its technicians and owners): the technician pages are
    theirs; a retailer's user is refused with a page."""
    if user.org_kind is not OrgKind.REPAIR_CENTER:
        raise RoleRefused(user)
    return user


TechnicianDep = Annotated[ConsoleUser, Depends(_worker)]


@dataclass(frozen=True)
class Refused:
    """A command the API refused, in the words the page shows (`role="alert"`)."""

    status: int
    message: str


def problem_of(exc: Problem | WorkflowUpdateFailedError | RPCError) -> Problem:
    """The problem the JSON API would have answered (api.errors maps the same way)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, WorkflowUpdateFailedError):
        return from_update_failure(exc)
    return temporal_unavailable()


def refusal(problem: Problem) -> Refused:
    if problem.code == "invalid_transition":
        current = str(problem.extra.get("current_status") or "")
        allowed = [humanise(a) for a in problem.extra.get("allowed") or []]
        now = f" It is {humanise(current).lower()} now" if current else ""
        then = f"; next: {', '.join(allowed)}." if allowed else "."
        message = f"That step was refused: the job has moved on.{now}{then}"
    elif problem.code in ("decision_pending", "temporal_unavailable"):
        message = (
            "The step was handed over but not confirmed yet. Reload the page in a moment "
            "to see whether it was applied; sending the same form again is safe."
        )
    elif problem.code == "not_found":
        message = "This job is not one of your center's."
    else:
        message = f"Refused ({problem.code}): {problem.detail}"
    status = problem.status if 400 <= problem.status < 600 else 409
    return Refused(status, message)


async def run_command(
    session: AsyncSession,
    res: Resources,
    key: str,
    send: Callable[[Commands], Awaitable[object]],
) -> Refused | None:
    """Send one command (`send` calls the API route with these `Commands`); None when it
    was applied, else why not."""
    try:
        commands = await Commands.of(res, session, key)
        await send(commands)
    except (Problem, WorkflowUpdateFailedError, RPCError) as exc:
        return refusal(problem_of(exc))
    return None


STALE_FORM = Refused(
    422, "This form is out of date (its one-time key is missing). Reload the page and try again."
)


def form_key() -> str:
    """A form's one-time key (its command's Idempotency-Key): made per rendered form, so a
    double submit is one command and a form rendered afresh is a new one."""
    return secrets.token_urlsafe(16)
