"""The retailer's feedback: every rating its customers gave, newest first, the low ones that
wait on staff on their own (the home page's "Low ratings to follow up" links there), keyset
paging as the JSON list pages, `?format=csv` answering the rows the page shows, and a
"Mark followed up" form sent through the JSON API's own route function
(`POST /v1/feedback/{feedback_id}/follow-up`), its nonce the `Idempotency-Key`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.csrf import CsrfDep
from api.console.render import render
from api.console.retail_common import require_retailer, when
from api.console.retail_forms import idempotency_key, new_nonce, refusal, text
from api.console.retail_kinds import BY_TYPE
from api.console.retail_lists import DEFAULT_LIMIT, MAX_LIMIT, csv_safe, page_links
from api.console.session import ConsoleUser, ConsoleUserDep
from api.deps import SessionDep
from api.errors import Problem
from api.pagination import decode_cursor, encode_keys
from api.routes.feedback import followed_up
from db import models
from db.feedback import FeedbackFilter, feedback_page

router = APIRouter()

PATH = "/console/feedback"
DONE = "followed_up"


def follow_up_state(feedback: models.Feedback) -> str:
    if feedback.followed_up_at is not None:
        return f"Followed up {when(feedback.followed_up_at)}"
    return "Waiting for a call back" if feedback.needs_follow_up else ""


def case_href(feedback: models.Feedback) -> str:
    kind = BY_TYPE.get(feedback.case_type)
    return f"/console/{kind.path}/{feedback.case_id}" if kind else ""


# The columns of the list, as the table and the CSV show them.
COLUMNS: tuple[tuple[str, Callable[[models.Feedback], str]], ...] = (
    ("Case", lambda f: f.case_id),
    ("Rating", lambda f: f"{f.rating} of 5"),
    ("Comment", lambda f: f.comment),
    ("Received", lambda f: when(f.created_at)),
    ("Follow-up", follow_up_state),
)


@dataclass(frozen=True)
class Filters:
    """The list's query, checked as the JSON API checks its own: a refusal is a 422 shown on
    the page, never a 500."""

    waiting: bool = False
    cursor: str = ""
    limit: int = DEFAULT_LIMIT

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        waiting = params.get("waiting", "")
        if waiting not in ("", "0", "1"):
            raise Problem(422, "validation_error", "waiting is 1 (only those to follow up) or 0")
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise Problem(422, "validation_error", f"limit must be 1 to {MAX_LIMIT}")
        return cls(waiting == "1", params.get("cursor", ""), limit)

    def query(self, **changes: str) -> str:
        """This list's query string, with `changes` (a next cursor, `format=csv`)."""
        values = {
            "waiting": "1" if self.waiting else "",
            "cursor": self.cursor,
            "limit": "" if self.limit == DEFAULT_LIMIT else str(self.limit),
            **changes,
        }
        return urlencode({k: v for k, v in values.items() if v})


def as_csv(rows: list[models.Feedback]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for title, _ in COLUMNS])
    for row in rows:
        writer.writerow([csv_safe(value(row)) for _, value in COLUMNS])
    return out.getvalue()


@router.get("/feedback", response_class=HTMLResponse)
async def feedback_list(request: Request, user: ConsoleUserDep, session: SessionDep) -> Response:
    require_retailer(user)
    return await _list(request, user, session)


async def _list(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    problem: Problem | None = None,
) -> Response:
    try:
        filters = Filters.of(request)
        before: tuple[datetime, str] | None = (
            decode_cursor(filters.cursor) if filters.cursor else None
        )
    except Problem as refused:
        return _page(request, user, Filters(), [], None, refused)
    where = FeedbackFilter(org_id=user.org_id, waiting_only=filters.waiting)
    rows = await feedback_page(session, where, before, filters.limit + 1)
    more = None
    if len(rows) > filters.limit:
        last = rows[filters.limit - 1]
        more = encode_keys(last.created_at.isoformat(), last.id)
    rows = rows[: filters.limit]
    if problem is None and request.query_params.get("format") == "csv":
        return Response(
            as_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="feedback.csv"',
                "Cache-Control": "no-store",
            },
        )
    return _page(request, user, filters, rows, more, problem)


def _page(
    request: Request,
    user: ConsoleUser,
    filters: Filters,
    rows: list[models.Feedback],
    more: str | None,
    problem: Problem | None,
) -> HTMLResponse:
    return render(
        request,
        "retail/feedback.html",
        user,
        status_code=problem.status if problem else 200,
        filters=filters,
        rows=rows,
        columns=COLUMNS,
        case_href=case_href,
        **page_links(filters, more),
        back=f"{PATH}?{filters.query()}",
        done=request.query_params.get("done") == DONE and problem is None,
        problem=problem,
        nonce=new_nonce,
    )


def back_to(value: str) -> str:
    """Where a form goes back to: a console page of this site only (never another host)."""
    if value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return PATH


@router.post("/feedback/{feedback_id}/follow-up", response_class=HTMLResponse)
async def mark_followed_up(
    feedback_id: str,
    request: Request,
    user: ConsoleUserDep,
    session: SessionDep,
    _csrf: CsrfDep,
) -> Response:
    require_retailer(user)
    form = await request.form()
    try:
        key = idempotency_key(user.user_id, form)
        await followed_up(session, user.principal(), feedback_id, key)
    except Exception as error:
        problem = refusal(error)
        if problem is None:
            raise
        await session.rollback()
        return await _list(request, user, session, problem)
    back = back_to(text(form, "back"))
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}done={DONE}", status_code=303)
