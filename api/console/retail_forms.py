"""What every retailer console form shares: its per-form nonce (which becomes the command's
`Idempotency-Key`, so a form submitted twice has one effect), reading the posted fields
into the JSON API's own request bodies, and the refusal shown inline.

A form page draws a fresh nonce each time it is rendered; a second submission of the same
rendered form (a double click, a reload of the POST, the back button) carries the same
nonce, so the command's idempotency layer answers it with the first answer and sends
nothing to the workflow again."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.errors import Problem, decision_pending, from_update_failure, temporal_unavailable

B = TypeVar("B", bound=BaseModel)

NONCE_FIELD = "form_nonce"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_nonce() -> str:
    """128 random bits: no two rendered forms share one."""
    return secrets.token_urlsafe(16)


def idempotency_key(user_id: str, form: FormData) -> str:
    """The `Idempotency-Key` of a posted form: its nonce, under the user who posted it. A
    form without a well-formed nonce was not rendered by the console: refused, so that a
    command is never sent without a key."""
    nonce = form.get(NONCE_FIELD)
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise Problem(422, "validation_error", "the form is out of date; reload the page")
    return f"console:{user_id}:{nonce}"


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


_WHOLE = re.compile(r"^-?[0-9]{1,12}$")


def whole(form: FormData, name: str, default: str = "") -> int | str:
    """A number field as the API's JSON would carry it (an integer); anything else as typed,
    for the API's validation to name."""
    value = text(form, name).strip() or default
    return int(value) if _WHOLE.match(value) else value


def checked(form: FormData, name: str) -> bool:
    """An HTML checkbox is posted (as "on", or its value) only when ticked."""
    return name in form and text(form, name) not in ("", "false", "0")


def body(model: type[B], fields: Mapping[str, Any]) -> B:
    """The API's request body from form fields, validated exactly as the JSON API validates
    it; a refusal is the same 422 `validation_error`, naming the fields."""
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        names = sorted({".".join(str(p) for p in e["loc"]) or "form" for e in exc.errors()})
        messages = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()
        )
        raise Problem(422, "validation_error", messages, fields=names) from exc


def refusal(error: Exception) -> Problem | None:
    """The problem a command's failure is, as the JSON API would answer it (the exception
    handlers of `api.errors`); None for anything else, which is a bug and stays one."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, WorkflowUpdateFailedError):
        return from_update_failure(error)
    if isinstance(error, WorkflowUpdateRPCTimeoutOrCancelledError):
        return decision_pending("the workflow has not answered yet; try again shortly")
    if isinstance(error, RPCError):
        return temporal_unavailable()
    return None


def describe(problem: Problem) -> str:
    """The refusal in words for the alert: the API's detail, and what the case allows now
    when the workflow said."""
    allowed = problem.extra.get("allowed")
    if problem.code == "invalid_transition" and isinstance(allowed, list):
        now = ", ".join(str(a) for a in allowed) or "nothing"
        return f"{problem.detail} (allowed now: {now})"
    return problem.detail
