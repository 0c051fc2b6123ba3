"""Insight's figures as SQL aggregates over the read model: a handful of grouped statements
per answer, whatever the number of cases (nothing walks the cases in Python), the same on
SQLite and PostgreSQL. Percentiles are nearest-rank, from ROW_NUMBER and COUNT windows.

A case counts under each key its units have (case_items: an RMA of two products counts
for both, once each however many units of one it returns)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Float,
    and_,
    case,
    distinct,
    exists,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from db import models
from domain.insights import (
    COMEBACK_WINDOW,
    REPAIR,
    FaultCodeInsight,
    GroupBy,
    ProductInsight,
)

_C = models.Case
_I = models.CaseItem
_P = models.Product
_HOURS_TO_COME_BACK = COMEBACK_WINDOW.total_seconds() / 3600


class hours_between(FunctionElement[float]):
    """Hours from the first moment to the second: each dialect subtracts timestamps its
    own way (SQLite stores them as text)."""

    type = Float()
    inherit_cache = True


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"((julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)})) * 24.0)"
    )


@compiles(hours_between)
def _hours_default(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
        f"{compiler.process(start, **kw)})) / 3600.0)"
    )


@dataclass(frozen=True)
class Period:
    """`since` inclusive, `until` exclusive; None is unbounded."""

    since: datetime | None = None
    until: datetime | None = None

    def of(self, column: Any) -> ColumnElement[bool]:
        bounds: list[ColumnElement[bool]] = []
        if self.since is not None:
            bounds.append(column >= self.since)
        if self.until is not None:
            bounds.append(column < self.until)
        return and_(true(), *bounds)


def _keyed(org_id: str, group_by: GroupBy, period: Period) -> Any:
    """Each case of the organisation in the period once per key its units have; by center a
    case has one key and needs no items at all."""
    columns = (
        _C.id,
        _C.case_type,
        _C.coverage,
        _C.sla_breached,
        _C.received_at,
        _C.shipped_at,
        _C.created_at,
    )
    in_period = and_(_C.org_id == org_id, period.of(_C.created_at))
    if group_by is GroupBy.CENTER:
        return (
            select(_C.receiving_org_id.label("key"), *columns)
            .where(in_period, _C.receiving_org_id.is_not(None))
            .cte("keyed")
        )
    key = _case_key(group_by)
    # The case's columns are carried through the DISTINCT: one lookup of each case, where
    # joining them back to the distinct pairs was a second.
    pairs = select(key.label("key"), *columns).select_from(_I).join(_C, _C.id == _I.case_id)
    if group_by is GroupBy.CATEGORY:
        pairs = pairs.join(_P, and_(_P.org_id == _C.org_id, _P.sku == _I.sku))
    return pairs.where(in_period).distinct().cte("keyed")


def _case_key(group_by: GroupBy) -> Any:
    if group_by is GroupBy.SKU:
        return _I.sku
    if group_by is GroupBy.CATEGORY:
        return _P.category
    return _C.receiving_org_id


async def product_insights(
    session: AsyncSession, org_id: str, group_by: GroupBy, period: Period
) -> list[ProductInsight]:
    """Every key with a case or a unit sold in the period, in key order."""
    rows: dict[str, ProductInsight] = defaultdict(lambda: ProductInsight(key=""))

    def merge(key: str, **figures: Any) -> None:
        rows[key] = replace(rows.get(key) or ProductInsight(key=key), **figures)

    for row in await session.execute(_cases_statement(org_id, group_by, period)):
        merge(
            row.key,
            rmas=row.rmas,
            repairs=row.repairs,
            replacements=row.replacements,
            plan_claims=row.plan_claims,
            goodwill=row.goodwill,
            sla_breaches=row.sla_breaches,
            csat_avg=None if row.csat_avg is None else round(float(row.csat_avg), 2),
            feedback_count=row.feedback_count,
        )
    for row in await session.execute(_repairs_statement(org_id, group_by, period)):
        if row.shipped:
            merge(
                row.key,
                first_time_fix_rate=round((row.shipped - row.comebacks) / row.shipped, 4),
            )
        if row.p50 is not None:
            merge(
                row.key,
                turnaround_p50_hours=round(float(row.p50), 2),
                turnaround_p90_hours=round(float(row.p90), 2),
            )
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for key, reason, count in await session.execute(_reasons_statement(org_id, group_by, period)):
        reasons[key][reason] = count
    for key, counted in reasons.items():
        merge(key, reasons=dict(sorted(counted.items())))
    if group_by is not GroupBy.CENTER:
        # Units are sold and returns deflected per product, never per repair center.
        for key, sold in await session.execute(_sold_statement(org_id, group_by, period)):
            merge(key, sold=int(sold))
        for key, count in await session.execute(_deflected_statement(org_id, group_by, period)):
            merge(key, deflected=count)
    return [rows[key] for key in sorted(rows)]


def _count_where(condition: ColumnElement[bool], keyed: Any) -> ColumnElement[int]:
    # `keyed` has each case once per key: a sum, not a COUNT(DISTINCT) and its sort.
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _cases_statement(org_id: str, group_by: GroupBy, period: Period) -> Executable:
    keyed = _keyed(org_id, group_by, period)
    k = keyed.c
    feedback = models.Feedback
    return (
        select(
            k.key,
            _count_where(k.case_type == "rma", keyed).label("rmas"),
            _count_where(k.case_type == REPAIR, keyed).label("repairs"),
            _count_where(k.case_type == "replacement", keyed).label("replacements"),
            _count_where(
                and_(k.coverage == "service_plan", k.case_type.in_((REPAIR, "replacement"))),
                keyed,
            ).label("plan_claims"),
            _count_where(k.coverage == "goodwill", keyed).label("goodwill"),
            _count_where(and_(k.case_type == REPAIR, k.sla_breached), keyed).label("sla_breaches"),
            func.avg(feedback.rating).label("csat_avg"),
            func.count(feedback.id).label("feedback_count"),
        )
        .select_from(keyed)
        .outerjoin(feedback, feedback.case_id == k.id)
        .group_by(k.key)
    )


def _reasons_statement(org_id: str, group_by: GroupBy, period: Period) -> Executable:
    key = _case_key(group_by)
    query = select(key, _I.reason, func.count(distinct(_C.id))).join(_I, _I.case_id == _C.id)
    if group_by is GroupBy.CATEGORY:
        query = query.join(_P, and_(_P.org_id == _C.org_id, _P.sku == _I.sku))
    return query.where(
        _C.org_id == org_id,
        _C.case_type == "rma",
        period.of(_C.created_at),
        key.is_not(None),
        _I.reason != "",
    ).group_by(key, _I.reason)


def _repairs_statement(org_id: str, group_by: GroupBy, period: Period) -> Executable:
    """Per key, of the repairs in the period: those shipped back, those whose unit came back
    (its next repair, all time, opened within the window after it was shipped), and the
    nearest-rank turnaround percentiles. One pass over the organisation's repairs with
    window functions (a repair job has one unit: its rows need no DISTINCT), not a search
    per repair."""
    key = _case_key(group_by)
    hours = hours_between(_C.received_at, _C.shipped_at)
    timed = and_(_C.received_at.is_not(None), _C.shipped_at.is_not(None), period.of(_C.created_at))
    # Ranked among the key's timed repairs only: the others rank apart.
    timed_flag = case((timed, 1), else_=0)
    query = select(
        key.label("key"),
        _C.created_at,
        _C.shipped_at,
        timed_flag.label("timed"),
        hours.label("hours"),
        func.lead(_C.created_at)
        .over(partition_by=(_I.sku, _I.serial), order_by=(_C.created_at, _C.id))
        .label("next_opened"),
        # The share of the key's timed repairs at or under this one's hours: one sort, where
        # a rank and a count over the partition were two.
        func.cume_dist().over(partition_by=(key, timed_flag), order_by=hours).label("share"),
    ).join(_I, _I.case_id == _C.id)
    if group_by is GroupBy.CATEGORY:
        query = query.join(_P, and_(_P.org_id == _C.org_id, _P.sku == _I.sku))
    repairs = query.where(_C.org_id == org_id, _C.case_type == REPAIR).subquery("repairs")
    r = repairs.c
    shipped = r.shipped_at.is_not(None)
    came_back = and_(
        shipped,
        r.next_opened > r.shipped_at,
        hours_between(r.shipped_at, r.next_opened) <= _HOURS_TO_COME_BACK,
    )

    def percentile(share: float) -> ColumnElement[float]:
        # Nearest rank: the smallest value v with count(hours <= v) / n >= p/100, which is
        # CUME_DIST's (0.5 and 0.9 compare exactly: a correctly rounded quotient is monotone).
        return func.min(case((and_(r.timed == 1, r.share >= share), r.hours)))

    return (
        select(
            r.key,
            func.sum(case((shipped, 1), else_=0)).label("shipped"),
            func.sum(case((came_back, 1), else_=0)).label("comebacks"),
            percentile(0.5).label("p50"),
            percentile(0.9).label("p90"),
        )
        .where(period.of(r.created_at), r.key.is_not(None))
        .group_by(r.key)
    )


def _sold_statement(org_id: str, group_by: GroupBy, period: Period) -> Executable:
    line = models.OrderLine
    key = line.sku if group_by is GroupBy.SKU else _P.category
    query = select(key, func.sum(line.quantity)).join(
        models.Order, models.Order.id == line.order_id
    )
    if group_by is GroupBy.CATEGORY:
        query = query.join(_P, and_(_P.org_id == line.org_id, _P.sku == line.sku))
    return query.where(line.org_id == org_id, period.of(models.Order.placed_at)).group_by(key)


def _deflected_statement(org_id: str, group_by: GroupBy, period: Period) -> Executable:
    d = models.Deflection
    key = d.sku if group_by is GroupBy.SKU else _P.category
    query = select(key, func.count(d.id))
    if group_by is GroupBy.CATEGORY:
        query = query.join(_P, and_(_P.org_id == d.org_id, _P.sku == d.sku))
    return query.where(d.org_id == org_id, period.of(d.created_at)).group_by(key)


async def fault_code_insights(
    session: AsyncSession, org_id: str, sku: str | None
) -> list[FaultCodeInsight]:
    """The retailer's repairs by diagnosed fault code (of one sku's units when named), the
    most frequent first; first and last seen are when those repairs were opened."""
    query = select(
        _C.fault_code,
        func.count(distinct(_C.id)).label("repairs"),
        func.min(_C.created_at).label("first_seen"),
        func.max(_C.created_at).label("last_seen"),
    ).where(_C.org_id == org_id, _C.case_type == REPAIR, _C.fault_code.is_not(None))
    if sku is not None:
        query = query.where(
            exists().where(_I.case_id == _C.id, _I.sku == sku),
        )
    query = query.group_by(_C.fault_code).order_by(
        func.count(distinct(_C.id)).desc(), _C.fault_code
    )
    return [
        FaultCodeInsight(row.fault_code, row.repairs, _aware(row.first_seen), _aware(row.last_seen))
        for row in await session.execute(query)
    ]


def _aware(value: Any) -> datetime:
    """MIN/MAX over a UTCDateTime column answers what the driver gives (SQLite: text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def turnaround_histogram(
    session: AsyncSession, org_id: str, period: Period, edges: tuple[int, ...]
) -> list[int]:
    """Repairs shipped back, counted by their turnaround in hours: under edges[0], each
    [edge, next edge), and edges[-1] or more (len(edges) + 1 counts)."""
    hours = hours_between(_C.received_at, _C.shipped_at)
    bucket = case(*((hours < edge, index) for index, edge in enumerate(edges)), else_=len(edges))
    query = (
        select(bucket.label("bucket"), func.count())
        .where(
            _C.org_id == org_id,
            _C.case_type == REPAIR,
            _C.received_at.is_not(None),
            _C.shipped_at.is_not(None),
            period.of(_C.created_at),
        )
        # By the answer's column: PostgreSQL would see the CASE's parameters in GROUP BY as
        # other values than those in the select list.
        .group_by(literal_column("bucket"))
    )
    counts = [0] * (len(edges) + 1)
    for index, count in await session.execute(query):
        counts[int(index)] = count
    return counts
