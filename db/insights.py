"""Insight's figures as SQL aggregates: per-day rollups of the read model, kept current by
database triggers and recomputed here, summed over a period's whole days, with its partial
first and last day read from the read model by the same statements. A handful of grouped
statements per answer whatever the number of cases (nothing walks the cases in Python), the
same on SQLite and PostgreSQL. Percentiles are nearest-rank, from counts per exact hours.

A case counts under each key its units have (case_items: an RMA of two products counts
for both, once each however many units of one it returns)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Executable,
    Float,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    distinct,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
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


# --- Where the figures come from -------------------------------------------------------
#
# Each figure is a sum over days: the rollups (`insight_days`, `insight_reasons`,
# `insight_turnarounds`) hold every whole UTC day, recomputed from the read model by the
# statements below whenever a trigger marked the day stale (migration 0023); a period's
# partial first and last day are read from the read model by the same statements. A case
# counts on the day it was opened, a unit sold on the day it was ordered.

COUNTERS = (
    "rmas",
    "repairs",
    "replacements",
    "plan_claims",
    "goodwill",
    "sla_breaches",
    "feedback_count",
    "rating_sum",
    "shipped",
    "comebacks",
    "sold",
    "deflected",
)
_DAY = timedelta(days=1)
# Stale days recomputed per transaction: a long backlog (every day, after the upgrade) is
# committed as it goes, so a reader that gives up keeps what was done.
_REFRESH_CHUNK = 62


class utc_day(FunctionElement[date]):
    """The UTC day of a stored moment, as the triggers of migration 0023 compute it."""

    type = Date()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # A moment is stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
    (moment,) = list(element.clauses)
    return f"substr({compiler.process(moment, **kw)}, 1, 10)"


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"(({compiler.process(moment, **kw)}) AT TIME ZONE 'UTC')::date"


# Statements are built once per grouping and shape (below, cached) and their values bound at
# execution: building and compiling one afresh cost more than running it.
ORG = bindparam("org_id", type_=String())


@dataclass(frozen=True)
class Opened:
    """Which rows a statement reads, by the moment that places them (a case's opening, an
    order's placing): whole UTC days (bound as `days`, `from_moment` and `to_moment`, see
    `days_bound`), or `edges` runs of moments (`since_N`, `until_N`)."""

    days: bool = False
    edges: int = 0

    def of(self, column: Any) -> ColumnElement[bool]:
        if self.days:
            # The range lets the moment's index narrow the read; the list picks the days.
            return and_(
                column >= bindparam("from_moment"),
                column < bindparam("to_moment"),
                utc_day(column).in_(bindparam("days", expanding=True)),
            )
        return or_(
            false(),
            *(
                and_(column >= bindparam(f"since_{n}"), column < bindparam(f"until_{n}"))
                for n in range(self.edges)
            ),
        )


def days_bound(days: Sequence[date]) -> dict[str, Any]:
    return {
        "days": list(days),
        "from_moment": _midnight(min(days)),
        "to_moment": _midnight(max(days)) + _DAY,
    }


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Shape:
    """What a period's statements look like: whether the whole days are bounded below and
    above, whether there are any, and how many runs of moments around them are read live."""

    first: bool
    last: bool
    rollups: bool
    edges: int


@dataclass(frozen=True)
class Split:
    """A period as the whole days the rollups answer (`first` inclusive, `last` exclusive,
    None unbounded) and the runs of moments around them read live."""

    first: date | None
    last: date | None
    moments: tuple[tuple[datetime, datetime], ...] = ()
    rollups: bool = True

    @property
    def shape(self) -> Shape:
        return Shape(self.first is not None, self.last is not None, self.rollups, len(self.moments))

    def bound(self, org_id: str) -> dict[str, Any]:
        values: dict[str, Any] = {"org_id": org_id, "first_day": self.first, "last_day": self.last}
        for n, (since, until) in enumerate(self.moments):
            values |= {f"since_{n}": since, f"until_{n}": until}
        return values


def split(period: Period) -> Split:
    since = None if period.since is None else period.since.astimezone(UTC)
    until = None if period.until is None else period.until.astimezone(UTC)
    edges: list[tuple[datetime, datetime]] = []
    first = last = None
    if since is not None:
        after = _midnight(since.date())
        after = after if after == since else after + _DAY
        first = after.date()
        if since < after:
            edges.append((since, after))
    if until is not None:
        before = _midnight(until.date())
        last = before.date()
        if before < until:
            edges.append((before, until))
    if first is not None and last is not None and first >= last:  # no whole day between them
        assert since is not None and until is not None  # first and last come from them
        return Split(None, None, ((since, until),), rollups=False)
    return Split(first, last, tuple(edges))


def _case_key(group_by: GroupBy) -> Any:
    if group_by is GroupBy.SKU:
        return _I.sku
    if group_by is GroupBy.CATEGORY:
        return _P.category
    return _C.receiving_org_id


def _with_key(query: Select[Any], group_by: GroupBy) -> Select[Any]:
    """A statement over cases joined to their units, with the product when the key is its
    category."""
    if group_by is GroupBy.CATEGORY:
        return query.join(_P, and_(_P.org_id == _C.org_id, _P.sku == _I.sku))
    return query


def _zeros(**figures: Any) -> list[Any]:
    return [figures.get(name, literal(0)).label(name) for name in COUNTERS]


def _cases_part(org_id: Any, group_by: GroupBy, opened: Opened) -> Select[Any]:
    """Cases opened, by kind and coverage, with their ratings: a case counts once per key
    its units have (an RMA of two products counts for both, once each however many units of
    one it returns); by center a case has one key and needs no units at all."""
    columns = (
        _C.id,
        _C.case_type,
        _C.coverage,
        _C.sla_breached,
        utc_day(_C.created_at).label("day"),
    )
    in_period = and_(_C.org_id == org_id, opened.of(_C.created_at))
    if group_by is GroupBy.CENTER:
        keyed = (
            select(_C.receiving_org_id.label("key"), *columns)
            .where(in_period, _C.receiving_org_id.is_not(None))
            .subquery("keyed")
        )
    else:
        pairs = select(_case_key(group_by).label("key"), *columns).select_from(_I)
        pairs = _with_key(pairs.join(_C, _C.id == _I.case_id), group_by)
        keyed = pairs.where(in_period).distinct().subquery("keyed")
    k = keyed.c
    feedback = models.Feedback

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return (
        select(
            k.day,
            k.key,
            *_zeros(
                rmas=count(k.case_type == "rma"),
                repairs=count(k.case_type == REPAIR),
                replacements=count(k.case_type == "replacement"),
                plan_claims=count(
                    and_(k.coverage == "service_plan", k.case_type.in_((REPAIR, "replacement")))
                ),
                goodwill=count(k.coverage == "goodwill"),
                sla_breaches=count(and_(k.case_type == REPAIR, k.sla_breached)),
                feedback_count=func.count(feedback.id),
                rating_sum=func.coalesce(func.sum(feedback.rating), 0),
            ),
        )
        .select_from(keyed)
        .outerjoin(feedback, feedback.case_id == k.id)
        .group_by(k.day, k.key)
    )


def _repairs_part(org_id: Any, group_by: GroupBy, opened: Opened) -> Select[Any]:
    """Repairs shipped back, and those whose unit came back: its next repair (all time, by
    opening) opened within the window after it was shipped. A repair job has one unit."""
    later = aliased(_C)
    later_unit = aliased(_I)
    next_opened = (
        select(func.min(later.created_at))
        .select_from(later_unit)
        .join(later, later.id == later_unit.case_id)
        .where(
            later_unit.sku == _I.sku,
            later_unit.serial == _I.serial,
            later.org_id == _C.org_id,
            later.case_type == REPAIR,
            or_(
                later.created_at > _C.created_at,
                and_(later.created_at == _C.created_at, later.id > _C.id),
            ),
        )
        .scalar_subquery()
    )
    query = _with_key(
        select(
            utc_day(_C.created_at).label("day"),
            _case_key(group_by).label("key"),
            _C.shipped_at,
            # Hours from shipped to the next opening, the lookup written once: PostgreSQL
            # would run it once per mention in the outer query.
            case((_C.shipped_at.is_not(None), hours_between(_C.shipped_at, next_opened))).label(
                "back_after"
            ),
        ).join(_I, _I.case_id == _C.id),
        group_by,
    )
    repairs = query.where(
        _C.org_id == org_id,
        _C.case_type == REPAIR,
        opened.of(_C.created_at),
        _case_key(group_by).is_not(None),
    ).subquery("repairs")
    r = repairs.c
    shipped = r.shipped_at.is_not(None)
    came_back = and_(
        shipped,
        r.back_after > 0,
        r.back_after <= _HOURS_TO_COME_BACK,
    )
    return select(
        r.day,
        r.key,
        *_zeros(
            shipped=func.sum(case((shipped, 1), else_=0)),
            comebacks=func.sum(case((came_back, 1), else_=0)),
        ),
    ).group_by(r.day, r.key)


def _sold_part(org_id: Any, group_by: GroupBy, opened: Opened) -> Select[Any]:
    line = models.OrderLine
    placed = models.Order.placed_at
    key = line.sku if group_by is GroupBy.SKU else _P.category
    query = select(
        utc_day(placed).label("day"), key.label("key"), *_zeros(sold=func.sum(line.quantity))
    ).join(models.Order, models.Order.id == line.order_id)
    if group_by is GroupBy.CATEGORY:
        query = query.join(_P, and_(_P.org_id == line.org_id, _P.sku == line.sku))
    return query.where(line.org_id == org_id, opened.of(placed)).group_by(utc_day(placed), key)


def _deflected_part(org_id: Any, group_by: GroupBy, opened: Opened) -> Select[Any]:
    d = models.Deflection
    key = d.sku if group_by is GroupBy.SKU else _P.category
    query = select(
        utc_day(d.created_at).label("day"), key.label("key"), *_zeros(deflected=func.count(d.id))
    )
    if group_by is GroupBy.CATEGORY:
        query = query.join(_P, and_(_P.org_id == d.org_id, _P.sku == d.sku))
    return query.where(d.org_id == org_id, opened.of(d.created_at)).group_by(
        utc_day(d.created_at), key
    )


def _figures(org_id: Any, group_by: GroupBy, opened: Opened) -> Any:
    """Every counter per (day, key) from the read model: one row per day and key."""
    parts = [_cases_part(org_id, group_by, opened), _repairs_part(org_id, group_by, opened)]
    if group_by is not GroupBy.CENTER:
        # Units are sold and returns deflected per product, never per repair center.
        parts += [_sold_part(org_id, group_by, opened), _deflected_part(org_id, group_by, opened)]
    every = union_all(*parts).subquery("parts")
    return select(
        every.c.day, every.c.key, *(func.sum(every.c[name]).label(name) for name in COUNTERS)
    ).group_by(every.c.day, every.c.key)


def _reasons(org_id: Any, group_by: GroupBy, opened: Opened) -> Select[Any]:
    """RMAs per (day, key, reason)."""
    key = _case_key(group_by)
    day = utc_day(_C.created_at)
    query = _with_key(
        select(
            day.label("day"),
            key.label("key"),
            _I.reason.label("reason"),
            func.count(distinct(_C.id)).label("rmas"),
        ).join(_I, _I.case_id == _C.id),
        group_by,
    )
    return query.where(
        _C.org_id == org_id,
        _C.case_type == "rma",
        opened.of(_C.created_at),
        key.is_not(None),
        _I.reason != "",
    ).group_by(day, key, _I.reason)


def _turnarounds(org_id: Any, group_by: GroupBy, opened: Opened) -> Select[Any]:
    """Repairs shipped back per (day, key, hours from received to shipped)."""
    key = _case_key(group_by)
    day = utc_day(_C.created_at)
    hours = hours_between(_C.received_at, _C.shipped_at)
    query = _with_key(
        select(
            day.label("day"), key.label("key"), hours.label("hours"), func.count().label("repairs")
        ).join(_I, _I.case_id == _C.id),
        group_by,
    )
    return query.where(
        _C.org_id == org_id,
        _C.case_type == REPAIR,
        _C.received_at.is_not(None),
        _C.shipped_at.is_not(None),
        opened.of(_C.created_at),
        key.is_not(None),
    ).group_by(day, key, hours)


# --- Keeping the rollups current -------------------------------------------------------


async def refresh_rollups(session: AsyncSession, org_id: str) -> int:
    """Recompute the organisation's stale days (each in every grouping), committing each
    run of days, until a run is shorter than a chunk (what writers mark meanwhile waits for
    the next reader: a steady stream of writes cannot keep one reader here); the number of
    days recomputed. Readers that find nothing stale write nothing."""
    stale = models.InsightStaleDay
    done = 0
    while (await session.execute(select(stale.day).where(stale.org_id == org_id).limit(1))).first():
        days = await _claim_stale(session, org_id)
        if days:
            bound = {"org_id": org_id, **days_bound(days)}
            for statement in _refresh_statements():
                await session.execute(statement, bound)
        await session.commit()
        done += len(days)
        if len(days) < _REFRESH_CHUNK:
            break
    return done


async def refresh_every_organisation(session: AsyncSession) -> dict[str, int]:
    """Every organisation's stale days recomputed (`aftersales insights refresh`, after an
    upgrade marked all existing data stale): days recomputed per organisation."""
    stale = models.InsightStaleDay
    orgs = (await session.scalars(select(stale.org_id).distinct())).all()
    return {org_id: await refresh_rollups(session, org_id) for org_id in sorted(orgs)}


async def _claim_stale(session: AsyncSession, org_id: str) -> list[date]:
    stale = models.InsightStaleDay
    if session.get_bind().dialect.name == "postgresql":
        # Two readers never recompute one organisation at once: the second waits, then
        # finds what the first left (a day a writer marked meanwhile).
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(literal("insight:") + org_id)))
        )
    oldest = (
        select(stale.day).where(stale.org_id == org_id).order_by(stale.day).limit(_REFRESH_CHUNK)
    )
    claimed = await session.execute(
        delete(stale).where(stale.org_id == org_id, stale.day.in_(oldest)).returning(stale.day)
    )
    return sorted({day for (day,) in claimed})


# Their Core tables: an ORM INSERT or DELETE given a dict of values would be a bulk
# operation over those values, where these statements take parameters.
def _table(model: type[models.Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_ROLLUPS = tuple(
    _table(model) for model in (models.InsightDay, models.InsightReason, models.InsightTurnaround)
)


@cache
def _refresh_statements() -> tuple[Executable, ...]:
    """The bound days' rollups deleted, then computed afresh in every grouping."""
    statements: list[Executable] = [
        delete(table).where(
            table.c.org_id == ORG,
            # Every grouping named: the primary key (org, grouping, day, …) finds the days.
            table.c.group_by.in_([group_by.value for group_by in GroupBy]),
            table.c.day.in_(bindparam("days", expanding=True)),
        )
        for table in _ROLLUPS
    ]
    opened = Opened(days=True)
    for group_by in GroupBy:
        at = (ORG.label("org_id"), literal(group_by.value).label("group_by"))
        for table, rows in zip(
            _ROLLUPS,
            (
                _figures(ORG, group_by, opened),
                _reasons(ORG, group_by, opened),
                _turnarounds(ORG, group_by, opened),
            ),
            strict=True,
        ):
            source = rows.subquery("computed")
            names = [column.name for column in source.c]
            statements.append(
                insert(table).from_select(["org_id", "group_by", *names], select(*at, *source.c))
            )
    return tuple(statements)


# --- Answering --------------------------------------------------------------------------


def _stored(table: Any, group_by: GroupBy, shape: Shape) -> ColumnElement[bool]:
    return and_(
        table.org_id == ORG,
        table.group_by == group_by.value,
        table.day >= bindparam("first_day") if shape.first else true(),
        table.day < bindparam("last_day") if shape.last else true(),
    )


def _both(
    table: Any, columns: tuple[str, ...], live: Select[Any], group_by: GroupBy, shape: Shape
) -> Any:
    """The rollups' rows of the period's whole days and the live rows of its partial ones,
    as one subquery of (key, *columns)."""
    parts: list[Any] = []
    if shape.rollups:
        parts.append(
            select(table.key, *(getattr(table, name) for name in columns)).where(
                _stored(table, group_by, shape)
            )
        )
    if shape.edges:
        computed = live.subquery("live")
        parts.append(select(computed.c.key, *(computed.c[name] for name in columns)))
    return union_all(*parts).subquery("rows")


@dataclass(frozen=True)
class _Answer:
    figures: Executable
    reasons: Executable
    percentiles: Executable


@cache
def _answer(group_by: GroupBy, shape: Shape) -> _Answer:
    live = Opened(edges=shape.edges)
    counted = _both(models.InsightDay, COUNTERS, _figures(ORG, group_by, live), group_by, shape)
    given = _both(
        models.InsightReason, ("reason", "rmas"), _reasons(ORG, group_by, live), group_by, shape
    )
    return _Answer(
        figures=select(
            counted.c.key, *(func.sum(counted.c[name]).label(name) for name in COUNTERS)
        ).group_by(counted.c.key),
        reasons=select(given.c.key, given.c.reason, func.sum(given.c.rmas)).group_by(
            given.c.key, given.c.reason
        ),
        percentiles=_percentiles(group_by, shape),
    )


async def product_insights(
    session: AsyncSession, org_id: str, group_by: GroupBy, period: Period
) -> list[ProductInsight]:
    """Every key with a case or a unit sold in the period, in key order."""
    await refresh_rollups(session, org_id)
    within = split(period)
    answer, bound = _answer(group_by, within.shape), within.bound(org_id)
    rows: dict[str, ProductInsight] = {}

    def merge(key: str, **figures: Any) -> None:
        rows[key] = replace(rows.get(key) or ProductInsight(key=key), **figures)

    for row in await session.execute(answer.figures, bound):
        figures = {name: int(getattr(row, name)) for name in COUNTERS}
        shipped, comebacks = figures.pop("shipped"), figures.pop("comebacks")
        rating_sum, feedback_count = figures.pop("rating_sum"), figures["feedback_count"]
        merge(
            row.key,
            **figures,
            csat_avg=round(rating_sum / feedback_count, 2) if feedback_count else None,
            first_time_fix_rate=round((shipped - comebacks) / shipped, 4) if shipped else None,
        )
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for key, reason, count in await session.execute(answer.reasons, bound):
        reasons[key][reason] = int(count)
    for key, counted_reasons in reasons.items():
        merge(key, reasons=dict(sorted(counted_reasons.items())))
    for row in await session.execute(answer.percentiles, bound):
        merge(
            row.key,
            turnaround_p50_hours=round(float(row.p50), 2),
            turnaround_p90_hours=round(float(row.p90), 2),
        )
    return [rows[key] for key in sorted(rows)]


def _hours_counted(group_by: GroupBy, shape: Shape) -> Any:
    """(key, hours, repairs): how many of the key's repairs took exactly so long."""
    timed = _both(
        models.InsightTurnaround,
        ("hours", "repairs"),
        _turnarounds(ORG, group_by, Opened(edges=shape.edges)),
        group_by,
        shape,
    )
    return (
        select(timed.c.key, timed.c.hours, func.sum(timed.c.repairs).label("repairs"))
        .group_by(timed.c.key, timed.c.hours)
        .subquery("counted")
    )


def _percentiles(group_by: GroupBy, shape: Shape) -> Executable:
    """Nearest rank: the smallest hours whose cumulative share of the key's repairs is at
    least 0.5 (0.9): CUME_DIST from counts (a correctly rounded quotient of the same two
    integers, so 0.5 and 0.9 compare exactly)."""
    counted = _hours_counted(group_by, shape)
    c = counted.c
    share = (
        cast(func.sum(c.repairs).over(partition_by=c.key, order_by=c.hours), Float)
        / cast(func.sum(c.repairs).over(partition_by=c.key), Float)
    ).label("share")
    shares = select(c.key, c.hours, share).subquery("shares")
    s = shares.c

    def percentile(at: float) -> ColumnElement[float]:
        return func.min(case((s.share >= at, s.hours)))

    return select(s.key, percentile(0.5).label("p50"), percentile(0.9).label("p90")).group_by(s.key)


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
    [edge, next edge), and edges[-1] or more (len(edges) + 1 counts). Each repair job has
    one unit, so by sku it is counted once."""
    await refresh_rollups(session, org_id)
    within = split(period)
    counts = [0] * (len(edges) + 1)
    for index, count in await session.execute(
        _histogram(within.shape, edges), within.bound(org_id)
    ):
        counts[int(index)] = int(count)
    return counts


@cache
def _histogram(shape: Shape, edges: tuple[int, ...]) -> Executable:
    counted = _hours_counted(GroupBy.SKU, shape)
    hours = counted.c.hours
    bucket = case(*((hours < edge, index) for index, edge in enumerate(edges)), else_=len(edges))
    return (
        select(bucket.label("bucket"), func.sum(counted.c.repairs))
        # By the answer's column: PostgreSQL would see the CASE's parameters in GROUP BY as
        # other values than those in the select list.
        .group_by(literal_column("bucket"))
    )
