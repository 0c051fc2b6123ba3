"""The retailer's list of each case type: search (case id, order reference, customer email,
serial), a status filter, the home page's queues, keyset paging as the JSON lists page, and
`?format=csv` answering exactly the rows and columns the page shows. One statement per
page (`retail_queries.list_page`), whatever its size."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.render import render
from api.console.retail_common import require_retailer, when
from api.console.retail_kinds import KINDS, CaseKind
from api.console.retail_queries import QUEUE_CASE_TYPES, ListRow, Queue, list_page
from api.console.session import ConsoleUser, ConsoleUserDep
from api.deps import SessionDep
from api.errors import Problem
from api.pagination import decode_cursor, encode_keys

router = APIRouter()

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SEARCH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

QUEUE_TITLES = {
    Queue.DELIVERED: "Delivered, not received yet",
    Queue.SLA_BREACHED: "Past their repair SLA",
    Queue.CLAIMS: "Service-plan claims in progress",
}

# The columns of a list, as the table and the CSV show them.
COLUMNS: tuple[tuple[str, Callable[[ListRow], str]], ...] = (
    ("Case", lambda r: r.id),
    ("Status", lambda r: r.status),
    ("Customer", lambda r: r.customer_name),
    ("Email", lambda r: r.customer_email),
    ("Order", lambda r: r.order_ref),
    ("SKU", lambda r: r.sku),
    ("Serial", lambda r: r.serial),
    ("Resolution", lambda r: r.resolution or ""),
    ("Coverage", lambda r: r.coverage or ""),
    ("Opened", lambda r: when(r.created_at)),
    ("Updated", lambda r: when(r.updated_at)),
)


class ListQuery(Protocol):
    """A console list's filters: they know their cursor and write their own query string."""

    @property
    def cursor(self) -> str: ...

    def query(self, **changes: str) -> str: ...


def page_links(filters: ListQuery, more: str | None) -> dict[str, str | None]:
    """The next, first and CSV links of a console list page, for `render`."""
    return {
        "next_href": f"?{filters.query(cursor=more)}" if more else None,
        "first_href": f"?{filters.query(cursor='')}" if filters.cursor else None,
        "csv_href": f"?{filters.query(format='csv')}",
    }


@dataclass(frozen=True)
class Filters:
    """A list's query, checked as the JSON API checks its own: a refusal is a 422 shown on
    the page, never a 500."""

    search: str = ""
    status: str = ""
    queue: Queue | None = None
    cursor: str = ""
    limit: int = DEFAULT_LIMIT

    @classmethod
    def of(cls, request: Request, kind: CaseKind) -> Filters:
        params = request.query_params
        search = params.get("q", "").strip()
        if len(search) > MAX_SEARCH or _CONTROL.search(search):
            raise Problem(
                422, "validation_error", f"search: at most {MAX_SEARCH} printable characters"
            )
        status = params.get("status", "")
        if status and status not in kind.statuses:
            raise Problem(
                422, "validation_error", f"status must be one of {', '.join(kind.statuses)}"
            )
        queue = None
        if params.get("queue"):
            try:
                queue = Queue(params["queue"])
            except ValueError:
                queue = None
            if queue is None or kind.case_type not in QUEUE_CASE_TYPES[queue]:
                raise Problem(422, "validation_error", "no such queue for this list")
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise Problem(422, "validation_error", f"limit must be 1 to {MAX_LIMIT}")
        return cls(search, status, queue, params.get("cursor", ""), limit)

    def query(self, **changes: str) -> str:
        """This list's query string, with `changes` (a next cursor, `format=csv`)."""
        values = {
            "q": self.search,
            "status": self.status,
            "queue": self.queue.value if self.queue else "",
            "cursor": self.cursor,
            "limit": "" if self.limit == DEFAULT_LIMIT else str(self.limit),
            **changes,
        }
        return urlencode({k: v for k, v in values.items() if v})


def next_cursor(rows: list[ListRow], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_keys(last.created_at.isoformat(), last.id)


def as_csv(rows: list[ListRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for title, _ in COLUMNS])
    for row in rows:
        writer.writerow([csv_safe(value(row)) for _, value in COLUMNS])
    return out.getvalue()


def csv_safe(value: str) -> str:
    # A cell a spreadsheet would run as a formula (customer data can start with "=").
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def list_handler(
    kind: CaseKind,
) -> Callable[[Request, ConsoleUserDep, SessionDep], Coroutine[Any, Any, Response]]:
    async def page(request: Request, user: ConsoleUserDep, session: SessionDep) -> Response:
        require_retailer(user)
        try:
            filters = Filters.of(request, kind)
            after: tuple[datetime, str] | None = (
                decode_cursor(filters.cursor) if filters.cursor else None
            )
        except Problem as problem:
            return _page(request, user, kind, Filters(), [], None, problem)
        rows = await list_page(
            session,
            user.org_id,
            kind.case_type,
            statuses=[filters.status] if filters.status else [],
            queue=filters.queue,
            search=filters.search,
            after=after,
            limit=filters.limit + 1,
        )
        more = next_cursor(rows, filters.limit)
        rows = rows[: filters.limit]
        if request.query_params.get("format") == "csv":
            return Response(
                as_csv(rows),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{kind.path}.csv"',
                    "Cache-Control": "no-store",
                },
            )
        return _page(request, user, kind, filters, rows, more, None)

    page.__name__ = f"console_{kind.case_type}_list"
    return page


def _page(
    request: Request,
    user: ConsoleUser,
    kind: CaseKind,
    filters: Filters,
    rows: list[ListRow],
    more: str | None,
    problem: Problem | None,
) -> HTMLResponse:
    return render(
        request,
        "retail/list.html",
        user,
        status_code=problem.status if problem else 200,
        kind=kind,
        filters=filters,
        rows=rows,
        columns=COLUMNS,
        queue_title=QUEUE_TITLES.get(filters.queue) if filters.queue else None,
        **page_links(filters, more),
        problem=problem,
    )


for _kind in KINDS:
    router.add_api_route(
        f"/{_kind.path}",
        list_handler(_kind),
        methods=["GET"],
        response_class=HTMLResponse,
        name=f"console_{_kind.case_type}_list",
    )
