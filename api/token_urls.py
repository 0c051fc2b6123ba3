"""Answers to a URL that carries a tracking token. The token is the customer's only
credential: no answer to it is cached (a shared computer, a proxy) and the URL is never sent
on as a referrer (a link followed from the page or a document). Refusals too: a 404 or 409
at such a URL still names the token."""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_URL_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

_TRACKING_PATH = re.compile(r"^/(v1/)?track/")


def carries_token(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return bool(_TRACKING_PATH.match(scope["path"])) or b"token=" in query


class TokenUrlHeaders:
    """Every answer to a URL with a token sends `TOKEN_URL_HEADERS`, whatever answered it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not carries_token(scope):
            return await self.app(scope, receive, send)

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in TOKEN_URL_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, private)
