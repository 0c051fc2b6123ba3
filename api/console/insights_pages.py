"""The retailer's insight page, /console/insights: per product, category or repair center
why units come back and how well they are served (the figures of GET
/v1/insights/products), with charts drawn on the server as SVG (return rate, reasons,
fault codes, turnaround) each beside a table of its figures, and the table as CSV."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from api.auth import OrgKind
from api.console.render import NAV_LINKS, NavLink, render
from api.console.retail_common import require_retailer
from api.console.session import ConsoleUser, ConsoleUserDep
from api.csv_answers import CSV_TYPE, table_csv
from api.deps import SessionDep
from db.insights import Period, fault_code_insights, product_insights, turnaround_histogram
from domain.insights import GroupBy, ProductInsight
from presentation.svg_charts import Bar, bar_chart, hours, percent

router = APIRouter()

_STAFF: tuple[Literal["owner", "staff"], ...] = ("owner", "staff")
NAV_LINKS.append(NavLink("/console/insights", "Insights", (OrgKind.RETAILER,), _STAFF))

# Turnaround buckets' edges in hours: a day, two, three, a working week, two weeks.
EDGES = (24, 48, 72, 120, 336)
GROUP_TITLES = {GroupBy.SKU: "Product", GroupBy.CATEGORY: "Category", GroupBy.CENTER: "Center"}
TOP_FAULTS = 10


@dataclass(frozen=True)
class Filters:
    group_by: GroupBy = GroupBy.SKU
    since: date | None = None
    until: date | None = None

    @classmethod
    def of(cls, request: Request) -> Filters:
        """The query's filters; ValueError names what cannot be read."""
        query = request.query_params
        try:
            group_by = GroupBy(query.get("group_by") or GroupBy.SKU)
        except ValueError as exc:
            raise ValueError("Group by product, category or center.") from exc
        since, until = _day(query.get("from"), "From"), _day(query.get("to"), "To")
        if since is not None and until is not None and until < since:
            raise ValueError("“To” is before “From”.")
        return cls(group_by, since, until)

    def period(self) -> Period:
        # Whole days in UTC, "to" included.
        return Period(
            None if self.since is None else _midnight(self.since),
            None if self.until is None else _midnight(self.until) + timedelta(days=1),
        )


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"“{name}” is not a date (YYYY-MM-DD).") from exc


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@router.get("/insights", response_class=HTMLResponse)
async def insights_page(request: Request, user: ConsoleUserDep, session: SessionDep) -> Response:
    require_retailer(user)
    try:
        filters = Filters.of(request)
    except ValueError as exc:
        return _page(request, user, Filters(), [], [], [0] * (len(EDGES) + 1), str(exc))
    period = filters.period()
    rows = await product_insights(session, user.org_id, filters.group_by, period)
    if request.query_params.get("format") == "csv":
        return Response(
            table_csv(_api_row(row) for row in rows),
            media_type=CSV_TYPE,
            headers={
                "Content-Disposition": 'attachment; filename="insights.csv"',
                "Cache-Control": "no-store",
            },
        )
    faults = await fault_code_insights(session, user.org_id, None)
    histogram = await turnaround_histogram(session, user.org_id, period, EDGES)
    return _page(request, user, filters, rows, faults, histogram, None)


def _api_row(row: ProductInsight) -> dict[str, Any]:
    """A row as GET /v1/insights/products answers it (its CSV has the same columns)."""
    return {**asdict(row), "return_rate": row.return_rate}


def _page(
    request: Request,
    user: ConsoleUser,
    filters: Filters,
    rows: list[ProductInsight],
    faults: list[Any],
    histogram: list[int],
    problem: str | None,
) -> HTMLResponse:
    title = GROUP_TITLES[filters.group_by]
    rated = sorted(
        (row for row in rows if row.return_rate is not None),
        key=lambda row: (-(row.return_rate or 0.0), row.key),
    )
    reasons: dict[str, int] = {}
    for row in rows:
        for reason, count in row.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    reason_rows = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    fault_rows = faults[:TOP_FAULTS]
    buckets = _bucket_labels()
    charts = {
        "return_rate": Markup(
            bar_chart(
                "chart-return-rate",
                f"Return rate by {title.lower()}",
                f"RMAs per unit sold for each {title.lower()} with units sold, highest first.",
                [Bar(row.key, row.return_rate or 0.0, percent(row.return_rate)) for row in rated],
            )
        ),
        "reasons": Markup(
            bar_chart(
                "chart-reasons",
                "Why units come back",
                "RMAs by the reason given, most frequent first.",
                [Bar(reason, count, str(count)) for reason, count in reason_rows],
            )
        ),
        "faults": Markup(
            bar_chart(
                "chart-faults",
                "Fault codes",
                f"Repairs by diagnosed fault code, the {TOP_FAULTS} most frequent.",
                [Bar(f.fault_code, f.count, str(f.count)) for f in fault_rows],
            )
        ),
        "turnaround": Markup(
            bar_chart(
                "chart-turnaround",
                "Turnaround",
                "Repairs shipped back, by hours from the unit received to it shipped.",
                [
                    Bar(label, count, str(count))
                    for label, count in zip(buckets, histogram, strict=True)
                ],
            )
        ),
    }
    query = {
        "group_by": filters.group_by.value,
        "from": filters.since.isoformat() if filters.since else "",
        "to": filters.until.isoformat() if filters.until else "",
    }
    return render(
        request,
        "insights/page.html",
        user,
        status_code=422 if problem else 200,
        problem=problem,
        filters=query,
        group_title=title,
        groups=[(g.value, GROUP_TITLES[g]) for g in GroupBy],
        rows=rows,
        rated=rated,
        reason_rows=reason_rows,
        fault_rows=fault_rows,
        turnaround_rows=list(zip(buckets, histogram, strict=True)),
        charts=charts,
        percent=percent,
        hours=hours,
        csv_href=request.url.include_query_params(format="csv"),
    )


def _bucket_labels() -> list[str]:
    labels = [f"under {EDGES[0]} h"]
    labels += [f"{low} to {high} h" for low, high in pairwise(EDGES)]
    return [*labels, f"{EDGES[-1]} h or more"]
