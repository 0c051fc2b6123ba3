"""Every error the API answers, as RFC 9457 problem details with a stable `code`.

Routes raise `Problem`; Temporal and validation errors are mapped here and nowhere else."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.common import INVALID_DATA

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    429: "Too many requests",
    503: "Service unavailable",
}


def problem_title(status: int) -> str:
    return _TITLES.get(status, "Error")


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def unauthorized(detail: str = "a valid API key is required") -> Problem:
    return Problem(401, "unauthorized", detail)


def forbidden(detail: str = "this kind of key may not do that") -> Problem:
    return Problem(403, "forbidden", detail)


def not_found(what: str = "resource") -> Problem:
    return Problem(404, "not_found", f"{what} not found")


def invalid_amount(field: str | tuple[str | int, ...], exc: ValueError) -> Problem:
    """An amount the body's schema could not judge alone (its currency is the retailer's
    or the case's): a 422 shaped like the schema's own; `field` is its path in the body
    (`("parts", 0, "unit_price")`)."""
    path = [field] if isinstance(field, str) else list(field)
    errors = [{"loc": ["body", *path], "msg": str(exc), "type": "value_error"}]
    return Problem(422, "validation_error", str(exc), errors=errors)


def invalid_transition(detail: str, current_status: str, allowed: list[str]) -> Problem:
    return Problem(
        409, "invalid_transition", detail, current_status=current_status, allowed=allowed
    )


def temporal_unavailable() -> Problem:
    return Problem(503, "temporal_unavailable", "the workflow service cannot be reached")


def decision_pending(detail: str) -> Problem:
    return Problem(503, "decision_pending", detail)


def case_id_collision() -> Problem:
    return Problem(
        503,
        "case_id_collision",
        "the new case drew an id already in use; retry the request (the same "
        "Idempotency-Key is fine) and it gets another",
    )


# How long a client waits before retrying a request whose Idempotency-Key another request
# still holds: that one is answering within seconds, or its hold lapses.
KEY_IN_USE_RETRY_AFTER_SECONDS = 1


def idempotency_key_in_use() -> Problem:
    return Problem(
        409,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still being processed; retry later",
    )


def _retry_after(problem: Problem) -> str | None:
    """The Retry-After of a problem a client retries as it is: every 503, and a key in use."""
    if problem.code == "idempotency_key_in_use":
        return str(KEY_IN_USE_RETRY_AFTER_SECONDS)
    return "5" if problem.status == 503 else None


def problem_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://aftersales.dev/problems/{code}",
        "title": problem_title(status),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def from_update_failure(error: WorkflowUpdateFailedError) -> Problem:
    """A workflow validator's refusal becomes a 409 with the state and allowed actions."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == "invalid_transition":
        details = cause.details[0] if cause.details else {}
        return invalid_transition(
            cause.message, str(details.get("current_status", "")), list(details.get("allowed", []))
        )
    if isinstance(cause, ApplicationError) and cause.type == INVALID_DATA:
        # The database refused the case's data for good: the request, not the state, is wrong.
        return Problem(422, INVALID_DATA, "the request holds data that cannot be stored")
    if isinstance(cause, ApplicationError) and cause.type:
        return Problem(409, cause.type, cause.message)
    return Problem(409, "conflict", str(cause or error))


class ShuttingDown:
    """A request still running when the server stops answers 503 `shutting_down` with
    Retry-After, which a client retries against the next instance, instead of a 500.

    uvicorn lets requests run for its graceful-shutdown period and then cancels them; a
    command waiting for its workflow's answer (up to `decision_timeout_seconds`) outlives
    that period, and uvicorn answered the cancelled request with a bare 500. Nothing else
    cancels a request's task (a client that goes away is not a cancellation), so a
    cancellation before any response is the server stopping. The command itself is in the
    workflow's hands or never arrived, so a retry is safe either way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except asyncio.CancelledError:
            if started:
                raise
            log.info("request cancelled by shutdown", path=scope.get("path"))
            response = problem_response(
                503, "shutting_down", "the service is restarting; retry shortly"
            )
            response.headers["Retry-After"] = "5"
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    # Innermost of the middlewares: it sees the cancellation before anything else unwinds.
    app.add_middleware(ShuttingDown)

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        response = problem_response(exc.status, exc.code, exc.detail, **exc.extra)
        if (seconds := _retry_after(exc)) is not None:
            response.headers["Retry-After"] = seconds
        return response

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _database_busy(_: Request, exc: Exception) -> JSONResponse:
        # A full connection pool or a database that blinked passes: the client retries
        # (with its Idempotency-Key) rather than reading a 500 as "the request was bad".
        log.warning("database unavailable", error=type(exc).__name__)
        response = problem_response(
            503, "database_unavailable", "the database is busy or unreachable; retry shortly"
        )
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        malformed = any(e["type"] == "json_invalid" for e in errors)
        code = "malformed_json" if malformed else "validation_error"
        detail = "the body is not valid JSON" if malformed else "the request is not valid"
        return problem_response(422, code, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
        }.get(exc.status_code, "error")
        response = problem_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # a 405's Allow
        return response

    @app.exception_handler(RPCError)
    async def _rpc(_: Request, exc: RPCError) -> JSONResponse:
        log.warning("temporal call failed", status=exc.status, message=exc.message)
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            problem = temporal_unavailable()
            return problem_response(problem.status, problem.code, problem.detail)
        return problem_response(503, "workflow_error", "the workflow service refused the call")

    @app.exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def _update_timeout(
        _: Request, exc: WorkflowUpdateRPCTimeoutOrCancelledError
    ) -> JSONResponse:
        problem = decision_pending("the workflow has not answered yet; retry shortly")
        response = problem_response(problem.status, problem.code, problem.detail)
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(WorkflowUpdateFailedError)
    async def _update(_: Request, exc: WorkflowUpdateFailedError) -> JSONResponse:
        problem = from_update_failure(exc)
        return problem_response(problem.status, problem.code, problem.detail, **problem.extra)
