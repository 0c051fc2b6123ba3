"""What the retailer console reads: a list page of any case type in one statement, and the
home page's counts of what waits on people in one statement.

A list row is the case, its customer's name and email, and its first unit (sku, serial):
what a clerk scans a list for. The JSON lists load each case's whole view (items,
timeline, documents, shipments); a console list shows none of that, so it reads only the
columns it shows, in one statement, whatever the page size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.feedback import follow_ups_statement
from domain.common import CLOSED_STATUSES

_C, _P, _I, _S, _T = (
    models.Case,
    models.CustomerRecord,
    models.CaseItem,
    models.Shipment,
    models.TimelineEvent,
)


class Queue(StrEnum):
    """The lists of what waits on someone that are more than a status (the home page links
    each count to its list)."""

    # An RMA whose parcel the carrier delivered and nobody has received yet.
    DELIVERED = "delivered_not_received"
    # An open repair job past its turnaround (`repair.sla_breached` was emitted).
    SLA_BREACHED = "sla_breached"
    # An open repair or replacement a service-plan claim started.
    CLAIMS = "claims"


# Which case types each queue lists (a claim starts a repair or a replacement).
QUEUE_CASE_TYPES: dict[Queue, tuple[str, ...]] = {
    Queue.DELIVERED: ("rma",),
    Queue.SLA_BREACHED: ("repair",),
    Queue.CLAIMS: ("repair", "replacement"),
}

_OPEN = _C.status.not_in(sorted(CLOSED_STATUSES))


def _delivered_not_received() -> ColumnElement[bool]:
    return and_(
        _C.status.in_(("awaiting_return", "in_transit")),
        exists().where(_S.case_id == _C.id, _S.direction == "inbound", _S.status == "delivered"),
    )


def _sla_breached() -> ColumnElement[bool]:
    return and_(_OPEN, exists().where(_T.case_id == _C.id, _T.event == "sla_breached"))


def _claim() -> ColumnElement[bool]:
    # A claim's repair or replacement is covered by the plan, and says so in `coverage`.
    return and_(_OPEN, _C.coverage == "service_plan")


_QUEUE_FILTERS = {
    Queue.DELIVERED: _delivered_not_received,
    Queue.SLA_BREACHED: _sla_breached,
    Queue.CLAIMS: _claim,
}


@dataclass(frozen=True, slots=True)
class ListRow:
    id: str
    status: str
    order_ref: str
    resolution: str | None
    coverage: str | None
    customer_name: str
    customer_email: str
    sku: str
    serial: str
    created_at: datetime
    updated_at: datetime


def _first_item(column: Any) -> Any:
    # Lowest id first: the item the case was opened with.
    return (
        select(column)
        .where(_I.case_id == _C.id)
        .order_by(_I.id)
        .limit(1)
        .correlate(_C)
        .scalar_subquery()
    )


def _matches(org_id: str, search: str) -> ColumnElement[bool]:
    """The organisation's cases whose id, order reference, customer email or a unit's serial
    is `search`: each found by its own index (migration 0022), so that a search reads the
    few cases it finds, not every case of the organisation.

    The organisation is checked on each case found (`found_for`), never walked: the list's
    own filter on it is left out when searching, and the check is written so that no index
    serves it, or SQLite's planner (without statistics, it takes an equality on an index
    to match a few rows) walks the organisation's cases in date order testing each."""
    found_for = func.coalesce(_C.org_id, "") == org_id
    found = union(
        select(_C.id).where(_C.id.in_((search, search.upper())), found_for),
        select(_C.id).where(_C.org_id == org_id, _C.order_ref == search),
        select(_C.id).where(
            _C.customer_id.in_(
                select(_P.id).where(_P.org_id == org_id, func.lower(_P.email) == search.lower())
            ),
            found_for,
        ),
        select(_I.case_id).join(_C, _C.id == _I.case_id).where(_I.serial == search, found_for),
    )
    return _C.id.in_(found)


def list_statement(
    org_id: str,
    case_type: str,
    *,
    statuses: Sequence[str] = (),
    queue: Queue | None = None,
    search: str = "",
    after: tuple[datetime, str] | None = None,
    limit: int,
) -> Select[Any]:
    """The retailer's cases of `case_type`, newest first, keyset-paged over
    (created_at, id) after `after`, as the JSON lists page them."""
    query = (
        select(
            _C.id,
            _C.status,
            _C.order_ref,
            _C.resolution,
            _C.coverage,
            func.coalesce(_P.name, literal("")),
            func.coalesce(_P.email, literal("")),
            func.coalesce(_first_item(_I.sku), literal("")),
            func.coalesce(_first_item(_I.serial), literal("")),
            _C.created_at,
            _C.updated_at,
        )
        .outerjoin(_P, _P.id == _C.customer_id)
        .where(_C.case_type == case_type)
    )
    # A search finds the organisation's cases itself (`_matches`); otherwise its cases.
    query = query.where(_matches(org_id, search) if search else _C.org_id == org_id)
    if statuses:
        query = query.where(_C.status.in_(list(statuses)))
    if queue is not None:
        query = query.where(_QUEUE_FILTERS[queue]())
    if after is not None:
        created, after_id = after
        query = query.where(
            or_(_C.created_at < created, and_(_C.created_at == created, _C.id < after_id))
        )
    return query.order_by(_C.created_at.desc(), _C.id.desc()).limit(limit)


async def list_page(
    session: AsyncSession,
    org_id: str,
    case_type: str,
    *,
    statuses: Sequence[str] = (),
    queue: Queue | None = None,
    search: str = "",
    after: tuple[datetime, str] | None = None,
    limit: int,
) -> list[ListRow]:
    statement = list_statement(
        org_id,
        case_type,
        statuses=statuses,
        queue=queue,
        search=search,
        after=after,
        limit=limit,
    )
    rows = await session.execute(statement)
    return [ListRow(*cast(tuple[Any, ...], row)) for row in rows]


# ------------------------------------------------------------------ the home page


@dataclass(frozen=True, slots=True)
class Waiting:
    """The counts on a retailer's home page."""

    pending_review: int
    delivered_not_received: int
    received_not_inspected: int
    claims: int
    failed_deliveries: int
    sla_breaches: int
    follow_ups: int


def home_statement(org_id: str) -> Select[Any]:
    """Every count in one statement (scalar subqueries, each over an index)."""
    org = literal(org_id, type_=models.Organisation.id.type)

    def count(case_types: str | tuple[str, ...], *conditions: ColumnElement[bool]) -> Any:
        types = (case_types,) if isinstance(case_types, str) else case_types
        return (
            select(func.count())
            .select_from(_C)
            .where(_C.org_id == org, _C.case_type.in_(types), *conditions)
            .scalar_subquery()
        )

    deliveries, subscriptions = models.WebhookDelivery, models.WebhookSubscription
    failed = (
        select(func.count())
        .select_from(deliveries)
        .join(subscriptions, subscriptions.id == deliveries.subscription_id)
        .where(subscriptions.org_id == org, deliveries.status == "failed")
        .scalar_subquery()
    )
    return select(
        count("rma", _C.status == "pending_review"),
        count("rma", _delivered_not_received()),
        count("rma", _C.status == "received"),
        count(QUEUE_CASE_TYPES[Queue.CLAIMS], _claim()),
        failed,
        count("repair", _sla_breached()),
        follow_ups_statement(org).scalar_subquery(),
    )


async def waiting(session: AsyncSession, org_id: str) -> Waiting:
    row = (await session.execute(home_statement(org_id))).one()
    return Waiting(*(int(value or 0) for value in row))


# ------------------------------------------------------------------ setup pages


@dataclass(frozen=True, slots=True)
class StockLevel:
    sku: str
    name: str
    quantity: int
    reserved: int

    @property
    def available(self) -> int:
        return self.quantity - self.reserved


async def stock_levels(session: AsyncSession, org_id: str) -> list[StockLevel]:
    """Every product of the catalog with its stock (none held: 0), by sku; one statement."""
    product, item = models.Product, models.InventoryItem
    rows = await session.execute(
        select(
            product.sku,
            product.name,
            func.coalesce(item.quantity, 0),
            func.coalesce(item.reserved, 0),
        )
        .outerjoin(item, and_(item.org_id == product.org_id, item.sku == product.sku))
        .where(product.org_id == org_id)
        .order_by(product.sku)
    )
    return [StockLevel(*row) for row in rows]


async def failed_deliveries_by_subscription(session: AsyncSession, org_id: str) -> dict[str, int]:
    """How many deliveries of each of the organisation's webhooks ended failed."""
    deliveries, subscriptions = models.WebhookDelivery, models.WebhookSubscription
    rows = await session.execute(
        select(deliveries.subscription_id, func.count())
        .join(subscriptions, subscriptions.id == deliveries.subscription_id)
        .where(subscriptions.org_id == org_id, deliveries.status == "failed")
        .group_by(deliveries.subscription_id)
    )
    return {sub: int(count) for sub, count in rows}


async def names_of(session: AsyncSession, org_ids: Sequence[str]) -> dict[str, str]:
    """The names of these organisations (the repair centers a retailer listed itself)."""
    if not org_ids:
        return {}
    org = models.Organisation
    rows = await session.execute(select(org.id, org.name).where(org.id.in_(list(org_ids))))
    return {org_id: name for org_id, name in rows}
