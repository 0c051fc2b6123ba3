"""One log line per HTTP request, and a request id on every line written while it runs.

The id is the caller's `X-Request-ID` when it is a plain short word (a proxy's or a
client's id, so one request is found in every system it crossed), otherwise a new one; the
answer carries it back in `X-Request-ID`. The path is logged as it came, query included:
the log's scrubber (observability.scrub) takes the token out of a tracking URL."""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# Anything else (too long, spaces, control characters, quotes) is not echoed or logged.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Probes and scrapes every few seconds: logged only at DEBUG.
_ROUTINE = frozenset({"/healthz", "/readyz", "/metrics"})

log = structlog.get_logger("aftersales.request")


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _SANE_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = request_id_from(scope)
        status = 500  # what the server answers if the app raises past its handlers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path: str = scope["path"]
                query: bytes = scope.get("query_string", b"")
                level = (
                    logging.DEBUG
                    if path in _ROUTINE and status < 500
                    else logging.WARNING
                    if status >= 500
                    else logging.INFO
                )
                log.log(
                    level,
                    "request",
                    method=scope["method"],
                    path=f"{path}?{query.decode('latin-1')}" if query else path,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
