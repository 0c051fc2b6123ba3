"""Projection: a workflow's record of its case written to the read model as rows.

Core `INSERT`/`UPDATE` statements on the tables, not ORM objects: a projection runs inside
the workflow task (a local activity), a dozen times per case, and the unit of work's
identity map, attribute history and flush ordering cost more than the statements
themselves (~3 ms of CPU per projection, measured in bench/repair_flow.py). The outbox
rows an entry calls for are written in the same transaction (`db.outbox`); handing them to
their delivery queues is not done here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import Row, String, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.outbox import (
    NewEvent,
    OutboundCase,
    OutboxConfig,
    PendingDelivery,
    case_subscriptions,
    pending_deliveries,
    subscriptions_from,
    table_of,
    write_outbound,
)
from db.readers import Reader, chosen_reader
from db.session import POINT_READ
from domain.insights import insight_columns

# Fields a projection may set on a case row; anything else is refused loudly.
PROJECTABLE = frozenset(
    {"coverage", "reason", "outcome", "refund_amount", "receiving_org_id", "resolution"}
)

_CASES = table_of(models.Case)
_CUSTOMERS = table_of(models.CustomerRecord)
_ITEMS = table_of(models.CaseItem)
_TIMELINE = table_of(models.TimelineEvent)
_OPEN_SERIALS = table_of(models.OpenSerial)
_ORGS = table_of(models.Organisation)

# Where a transaction's session notes what it stored for the first time (`StoredFirst`),
# for its caller to read once it commits: each case row and timeline entry is inserted once,
# so what is counted from these notes is counted once, and never for an attempt that
# rolled back.
_STORED_FIRST = "aftersales.stored_first"


@dataclass(frozen=True)
class StoredFirst:
    """A case row (`event` None) or a timeline entry stored for the first time."""

    case_type: str
    status: str
    event: str | None
    # The status of the case's latest earlier entry; None for its first.
    previous_status: str | None


def stored_first(info: dict[str, Any]) -> list[StoredFirst]:
    """What a transaction stored for the first time, taken (read once) from its session's
    `info`."""
    noted: list[StoredFirst] = info.pop(_STORED_FIRST, [])
    return noted


def _note(session: AsyncSession, stored: Sequence[StoredFirst]) -> None:
    session.info.setdefault(_STORED_FIRST, []).extend(stored)


# The entries a case has stored, as "seq:status" joined by commas: the case row's read
# carries them, one statement where there were two. Statuses are snake_case words.
_STORED_ENTRIES = (
    select(
        func.aggregate_strings(
            _TIMELINE.c.seq.cast(String).concat(":").concat(_TIMELINE.c.status), ","
        )
    )
    .where(_TIMELINE.c.case_id == _CASES.c.id)
    .scalar_subquery()
)

# Built once: a statement object caches its compiled form's key, which SQLAlchemy otherwise
# recomputes by walking the statement on every execution (the join below most of all).
_CASE_ROW = (
    select(
        _CASES.c.org_id,
        _CASES.c.case_type,
        _CASES.c.customer_id,
        _CASES.c.receiving_org_id,
        _CASES.c.tracking_token,
        _CASES.c.links,
        _CASES.c.data,
        _CASES.c.status,
        _CASES.c.updated_at,
        # What an email needs, in the same statement: the address, the retailer's name and
        # the reader's language and clock (`db.readers.chosen_reader`).
        _CUSTOMERS.c.email,
        _ORGS.c.name,
        _CUSTOMERS.c.locale,
        _CUSTOMERS.c.time_zone,
        _ORGS.c.default_locale,
        _ORGS.c.default_time_zone,
        _ORGS.c.paper_size,
        _STORED_ENTRIES.label("stored_entries"),
        case_subscriptions(_CASES).label("subscriptions"),
    )
    .select_from(_CASES)
    .outerjoin(_CUSTOMERS, _CUSTOMERS.c.id == _CASES.c.customer_id)
    .join(_ORGS, _ORGS.c.id == _CASES.c.org_id)
    .where(_CASES.c.id == bindparam("case_id"))
    .with_for_update(of=_CASES)
    .execution_options(**POINT_READ)
)
_INSERT_CUSTOMER = insert(_CUSTOMERS)
_INSERT_CASE = insert(_CASES)


def _stored_entries(joined: str | None) -> dict[int, str]:
    """seq -> status of what `_STORED_ENTRIES` read."""
    if not joined:
        return {}
    pairs = (one.split(":", 1) for one in joined.split(","))
    return {int(seq): status for seq, status in pairs}


# A case row as `_CASE_ROW` reads it.
CaseRow = Row[Any]


async def locked_case(session: AsyncSession, case_id: str) -> CaseRow:
    """The case row a projection changes, locked for the transaction (PostgreSQL), with
    what its entries' outbox rows and its documents need: the stored entries, the
    subscriptions that see it, its customer's address and its reader's choices."""
    row = (await session.execute(_CASE_ROW, {"case_id": case_id})).first()
    if row is None:
        raise LookupError(f"case {case_id} not recorded")
    return cast(CaseRow, row)


def reader_of_case(row: CaseRow) -> Reader:
    """Whose words and paper the case's documents and emails are in."""
    return chosen_reader(
        row.locale, row.time_zone, row.default_locale, row.default_time_zone, row.paper_size
    )


class Entry(Protocol):
    """A timeline entry as the workflow numbered it."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def detail(self) -> dict[str, str]: ...


class Item(Protocol):
    @property
    def sku(self) -> str: ...
    @property
    def serial(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def reason(self) -> str: ...
    @property
    def notes(self) -> str: ...


async def recorded_cases(session: AsyncSession, case_ids: Sequence[str]) -> set[str]:
    """Those of `case_ids` the read model holds, in one statement."""
    found = await session.scalars(select(_CASES.c.id).where(_CASES.c.id.in_(case_ids)))
    return set(found)


async def case_recorded(session: AsyncSession, case_id: str) -> bool:
    return case_id in await recorded_cases(session, [case_id])


async def case_status(session: AsyncSession, case_id: str) -> str | None:
    """The stored case's status; None when it is not recorded."""
    return await session.scalar(select(_CASES.c.status).where(_CASES.c.id == case_id))


async def insert_case(
    session: AsyncSession,
    case: OutboundCase,
    *,
    customer: Mapping[str, Any],
    columns: Mapping[str, Any],
    items: Sequence[Item],
    timeline: Sequence[Entry],
    config: OutboxConfig,
) -> list[PendingDelivery]:
    """The case, its customer record, items and first entries with their outbox rows.
    `customer` and `columns` are the customer's and the case's remaining columns."""
    assert case.customer_id is not None
    # Values bound at execution, not built into each statement: SQLAlchemy then finds the
    # compiled INSERT by its columns alone instead of walking a new statement every time.
    await session.execute(_INSERT_CUSTOMER, {"id": case.customer_id, **customer})
    await session.execute(
        _INSERT_CASE,
        {
            "id": case.id,
            "org_id": case.org_id,
            "case_type": case.case_type,
            "customer_id": case.customer_id,
            "receiving_org_id": case.receiving_org_id,
            "tracking_token": case.tracking_token,
            "links": case.links,
            "data": case.data,
            **insight_columns(case.case_type, case.data, timeline),
            **columns,
        },
    )
    if items:
        await session.execute(
            insert(_ITEMS),
            [
                {
                    "case_id": case.id,
                    "sku": item.sku,
                    "serial": item.serial,
                    "quantity": item.quantity,
                    "unit_price": item.unit_price,
                    "reason": item.reason,
                    "notes": item.notes,
                }
                for item in items
            ],
        )
    _note(session, [StoredFirst(case.case_type, str(columns["status"]), None, None)])
    return await append_timeline(session, case, timeline, config, stored={})


async def update_case(
    session: AsyncSession,
    case_id: str,
    *,
    status: str,
    updated_at: datetime,
    fields: Mapping[str, Any],
    data: Mapping[str, Any],
    links: Mapping[str, str],
    timeline: Sequence[Entry],
    config: OutboxConfig,
    closed_statuses: frozenset[str],
    row: CaseRow | None = None,
) -> list[PendingDelivery]:
    """Bring the case row up to date (one `UPDATE`) and append the entries not stored yet;
    answer what waits to be handed over for all of `timeline`. `row` is the case's
    `locked_case` when the caller read it already in this transaction."""
    unknown = set(fields) - PROJECTABLE
    if unknown:
        raise ValueError(f"not projectable: {sorted(unknown)}")
    c = _CASES.c
    if row is None:
        row = await locked_case(session, case_id)
    changes: dict[str, Any] = {}
    current_status, current_data, current_links = row.status, row.data, row.links
    # A retried or late projection must not move the case back in time.
    if updated_at >= row.updated_at:
        changes.update(fields, status=status, updated_at=updated_at)
        current_status = status
        if data:
            current_data = {**row.data, **data}
            changes["data"] = current_data
    if links:
        current_links = {**row.links, **links}
        changes["links"] = current_links
    changes.update(_insight_changes(row.case_type, data, timeline))
    if changes:
        await session.execute(update(_CASES).where(c.id == case_id).values(changes))
    if current_status in closed_statuses:
        # The unit may have its next case from the moment this one is closed.
        await session.execute(delete(_OPEN_SERIALS).where(_OPEN_SERIALS.c.case_id == case_id))
    if not timeline:
        return []
    receiving_org_id = changes.get("receiving_org_id", row.receiving_org_id)
    case = OutboundCase(
        id=case_id,
        org_id=row.org_id,
        case_type=row.case_type,
        customer_id=row.customer_id,
        receiving_org_id=receiving_org_id,
        tracking_token=row.tracking_token,
        links=current_links,
        data=current_data,
        customer_email=row.email if row.email is not None else "",
        retailer=row.name,
        reader=reader_of_case(row),
    )
    if receiving_org_id == row.receiving_org_id:
        # Read with the row; a case handed to another organisation just now reads its own.
        case = dataclasses.replace(case, subscriptions=subscriptions_from(row.subscriptions, case))
    stored = _stored_entries(row.stored_entries)
    return await append_timeline(session, case, timeline, config, stored=stored)


def _insight_changes(
    case_type: str, data: Mapping[str, Any], timeline: Sequence[Entry]
) -> dict[str, Any]:
    """Insight's typed columns whatever the order projections arrive in: the first moment
    a unit was received or shipped stays (a retried entry writes the same one again)."""
    changes = insight_columns(case_type, data, timeline)
    for moment in ("received_at", "shipped_at"):
        if moment in changes:
            column = _CASES.c[moment]
            changes[moment] = func.coalesce(column, literal(changes[moment], column.type))
    return changes


async def append_timeline(
    session: AsyncSession,
    case: OutboundCase,
    entries: Sequence[Entry],
    config: OutboxConfig,
    *,
    stored: dict[int, str],
) -> list[PendingDelivery]:
    """Store the entries not in `stored` (seq -> status of what the case has) with their
    webhook deliveries and emails; answer what waits to be sent for all of `entries`."""
    fresh: list[NewEvent] = []
    again: list[int] = []
    rows: list[dict[str, Any]] = []
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.seq in stored:
            again.append(entry.seq)
            continue
        rows.append(
            {
                "case_id": case.id,
                "seq": entry.seq,
                "at": entry.at,
                "status": entry.status,
                "event": entry.event,
                "actor": entry.actor,
                "detail": entry.detail,
            }
        )
        earlier = [seq for seq in stored if seq < entry.seq]
        fresh.append(NewEvent(entry, stored[max(earlier)] if earlier else None))
        stored[entry.seq] = entry.status
    if rows:
        await session.execute(insert(_TIMELINE), rows)
        _note(
            session,
            [
                StoredFirst(case.case_type, new.entry.status, new.entry.event, new.previous_status)
                for new in fresh
            ],
        )
    # A retried projection: what the first attempt wrote may never have been handed over.
    pending = await pending_deliveries(session, case.id, again)
    if fresh:
        pending += await write_outbound(session, case, fresh, config)
    return pending
