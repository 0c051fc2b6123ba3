"""Every list and insight as CSV: `?format=csv` or `Accept: text/csv` on a GET under /v1/
whose JSON answer is `{items: [...]}` is answered as a table of those items instead, in one
place rather than in each route. A nested object spreads into dotted columns
(`reasons.defective`), a list is written as its JSON; the next page's address, when there is
one, is in a `Link: <…>; rel="next"` header. Anything else (a problem, one object) is
answered as the route answered it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSV_TYPE = "text/csv; charset=utf-8"
# Cells a spreadsheet would run as a formula (customer text can start with "=").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def table_csv(items: Iterable[Mapping[str, Any]]) -> str:
    """`items` as CSV: a header of every (dotted) column in the order first met, a row each."""
    rows = [_flat(item) for item in items]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _flat(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in item.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = json.dumps(value, separators=(",", ":"))
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def wants_csv(scope: Scope) -> bool:
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    if query.get("format") == "csv":
        return True
    for name, value in scope.get("headers", []):
        if name == b"accept":
            accepted = [part.split(";")[0].strip() for part in value.decode("latin-1").split(",")]
            return "text/csv" in accepted
    return False


class CsvLists:
    """Pure ASGI: the route's JSON is held back and rewritten only when asked for CSV."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/v1/")
            or not wants_csv(scope)
        ):
            return await self.app(scope, receive, send)
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    assert start is not None
                    await _answer(scope, start, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, hold)


async def _answer(scope: Scope, start: Message, body: bytes, send: Send) -> None:
    headers = MutableHeaders(raw=list(start["headers"]))
    page = _page(start["status"], headers.get("content-type", ""), body)
    if page is not None:
        items, next_cursor = page
        body = table_csv(items).encode()
        headers["content-type"] = CSV_TYPE
        name = scope["path"].rstrip("/").rsplit("/", 1)[-1] or "items"
        headers["content-disposition"] = f'attachment; filename="{name}.csv"'
        if next_cursor is not None:
            headers["link"] = f'<{_next_url(scope, next_cursor)}>; rel="next"'
        headers["content-length"] = str(len(body))
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _page(status: int, content_type: str, body: bytes) -> tuple[list[Any], str | None] | None:
    if status != 200 or not content_type.startswith("application/json"):
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        return None
    items = [item if isinstance(item, dict) else {"value": item} for item in answer["items"]]
    cursor = answer.get("next_cursor")
    return items, cursor if isinstance(cursor, str) else None


def _next_url(scope: Scope, cursor: str) -> str:
    query = [
        (name, value)
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        if name != "cursor"
    ]
    return f"{scope['path']}?{urlencode([*query, ('cursor', cursor)])}"
