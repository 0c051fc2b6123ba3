"""What a request must be before any route sees it: a body of at most `MAX_BODY_BYTES`, and a
path free of control characters. Pure ASGI middleware, so a refusal is answered
before the body is parsed or a signature checked, and a body is never read past the limit."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response

MAX_BODY_BYTES = 1024 * 1024

# C0 controls and DEL: no id, token or code has one, and PostgreSQL cannot even compare a
# text with NUL in it (the query fails instead of finding nothing).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PathGuard:
    """A path with a control character names nothing: 404 `not_found` for every route with
    an id, token or code in its path, in one place."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CONTROL.search(scope["path"]):
            response = problem_response(404, "not_found", "resource not found")
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


class BodyLimit:
    """Bodies over `limit` bytes are 413 `payload_too_large`: at once when Content-Length
    says so, else as soon as the chunks read (chunked bodies have no length) pass it. The
    body is read here, up to the limit, and handed on whole."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            return await self._too_large(scope, receive, send)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the app see it as it would have.
                return await self.app(scope, _replay([message], receive), send)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await self._too_large(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            f"the request body is over {self.limit} bytes",
            max_bytes=self.limit,
        )
        # The rest of the body is not read: the server closes the connection after this.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`messages` first, then whatever the server sends next (a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
