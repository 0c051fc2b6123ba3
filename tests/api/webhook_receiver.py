"""A webhook receiver for tests: a real HTTP server that records what it is sent and answers
as each path asks (`/ok/...` accepts, `/flaky/...` refuses an event twice then accepts it,
`/down/...` is unavailable until the test brings it `up`)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import free_port, serve_asgi


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.raw)
        return body


@dataclass
class Receiver:
    base_url: str
    requests: list[Received] = field(default_factory=list)
    _tries: Counter[tuple[str, str]] = field(default_factory=Counter)
    up: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def accepted(self, path: str) -> list[dict[str, Any]]:
        """The events `path` accepted (answered 2xx), in arrival order."""
        return [r.event for r in self.requests if r.path == path and 200 <= r.answered < 300]

    def seen(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        path = request.url.path
        event_id = json.loads(raw)["event_id"]
        self._tries[path, event_id] += 1
        if path.startswith("/down/") and path not in self.up:
            answer = 503
        elif path.startswith("/flaky/"):
            answer = 500 if self._tries[path, event_id] <= 2 else 204
        else:
            answer = 200
        self.requests.append(Received(path, dict(request.headers), raw, answer))
        return Response(status_code=answer)


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}")
    app = Starlette(routes=[Route("/{rest:path}", receiver.handle, methods=["POST"])])
    async with serve_asgi(app, port):
        yield receiver
