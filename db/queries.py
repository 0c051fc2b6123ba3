"""Read-model queries the API and activities share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    JSON,
    BindParameter,
    CompoundSelect,
    Integer,
    String,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.models import MONEY
from db.session import POINT_READ
from db.types import UTCDateTime
from domain.common import CLOSED_STATUSES
from domain.service_plan import BillingPeriod, ClaimType, PlanTerms

_DURATION = TypeAdapter(timedelta)

# ------------------------------------------------------------------ a case as its views read it
#
# A case's view reads plain rows (the columns it shows), not ORM objects: hydrating and
# tracking an object per timeline entry cost more CPU than the queries themselves. Each
# statement is built once (building one costs as much as running it) and takes the ids of
# every case it loads, so a list page costs the same few queries for 5 cases or 200.


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: str
    name: str
    email: str
    phone: str
    address: dict[str, Any] | None
    # BCP 47 and IANA names; "" for the retailer's defaults.
    locale: str = ""
    time_zone: str = ""


@dataclass(frozen=True, slots=True)
class ItemRow:
    sku: str
    serial: str
    quantity: int
    reason: str
    unit_price: Decimal
    notes: str


@dataclass(frozen=True, slots=True)
class TimelineRow:
    at: datetime
    status: str
    event: str
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: str
    kind: str
    sha256: str
    verification_code: str | None


@dataclass(frozen=True, slots=True)
class ShipmentRow:
    id: str
    direction: str
    carrier: str
    tracking_number: str
    status: str
    service: str
    # What the label cost, when a real carrier sold it.
    cost: Decimal | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: str
    kind: str
    amount: Decimal
    currency: str
    status: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    id: str
    rating: int
    comment: str
    created_at: datetime


@dataclass
class CaseBundle:
    case: models.Case
    customer: CustomerRow | None
    items: list[ItemRow]
    timeline: list[TimelineRow]
    documents: list[DocumentRow]
    shipments: list[ShipmentRow]
    # The payments ledger, for the case types that show it (service plans).
    payments: list[PaymentRow] = field(default_factory=list)
    # The customer's rating, once the case has ended and they gave one.
    feedback: FeedbackRow | None = None


SHOWS_PAYMENTS = frozenset({"service_plan"})

_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
# Table columns, not the mapped classes' attributes: a statement over mapped attributes is
# ORM-enabled, and its rows go through the ORM's loading even when they are plain columns.
_C, _I, _T, _D, _S, _P, _F = (
    model.__table__.c
    for model in (
        models.CustomerRecord,
        models.CaseItem,
        models.TimelineEvent,
        models.Document,
        models.Shipment,
        models.Payment,
        models.Feedback,
    )
)
_CUSTOMER_COLUMNS = (_C.id, _C.name, _C.email, _C.phone, _C.address, _C.locale, _C.time_zone)
# The first column of each is the case id the row belongs to; the rest are the record's.
_CUSTOMERS = select(*_CUSTOMER_COLUMNS).where(_C.id.in_(_IDS)).execution_options(**POINT_READ)
# A case's items, timeline, documents and shipments in one statement: a UNION ALL whose
# branches share one row layout, each filling its own columns (the others are typed NULLs,
# so both databases give every column one type). A statement per table cost a round trip
# (two thread hops on SQLite) and a result each; the view is read on every command and poll.
_ITEM, _EVENT, _DOCUMENT, _SHIPMENT, _FEEDBACK = range(5)
_STRINGS = 7  # the most text columns a branch fills (a shipment's)


def _part(
    kind: int, case_id: Any, order: Sequence[Any], strings: Sequence[Any], **typed: Any
) -> Any:
    """One branch: `kind`, the case id, its sort keys (`o_int`, `o_at`, `o_id`), its text
    columns in `s0`.., and the typed ones it fills (`quantity`, `money`, `at`, `detail`)."""
    sort = dict(zip(("o_int", "o_at", "o_id"), order, strict=True))
    columns = [literal_column(str(kind), Integer).label("k"), case_id.label("case_id")]
    for name, type_ in _SORT_TYPES.items():
        columns.append(_or_null(sort.get(name), type_).label(name))
    for i in range(_STRINGS):
        columns.append(_or_null(strings[i] if i < len(strings) else None, String()).label(f"s{i}"))
    for name, type_ in _TYPED.items():
        columns.append(_or_null(typed.get(name), type_).label(name))
    return select(*columns)


def _or_null(column: Any, type_: Any) -> Any:
    return cast(null(), type_) if column is None else column


_SORT_TYPES: dict[str, Any] = {"o_int": Integer(), "o_at": UTCDateTime(), "o_id": String()}
_TYPED: dict[str, Any] = {
    "quantity": Integer(),
    "money": MONEY,
    "at": UTCDateTime(),
    "detail": JSON(),
}
_PARTS = union_all(
    _part(
        _ITEM,
        _I.case_id,
        (_I.id, None, None),
        (_I.sku, _I.serial, _I.reason, _I.notes),
        quantity=_I.quantity,
        money=_I.unit_price,
    ).where(_I.case_id.in_(_IDS)),
    _part(
        _EVENT,
        _T.case_id,
        (_T.seq, None, None),
        (_T.status, _T.event, _T.actor),
        at=_T.at,
        detail=_T.detail,
    ).where(_T.case_id.in_(_IDS)),
    _part(
        _DOCUMENT,
        _D.case_id,
        (None, _D.created_at, _D.id),
        (_D.id, _D.kind, _D.sha256, _D.verification_code),
    ).where(_D.case_id.in_(_IDS)),
    _part(
        _SHIPMENT,
        _S.case_id,
        (None, _S.created_at, _S.id),
        (_S.id, _S.direction, _S.carrier, _S.tracking_number, _S.status, _S.service, _S.currency),
        money=_S.cost,
    ).where(_S.case_id.in_(_IDS)),
    _part(
        _FEEDBACK,
        _F.case_id,
        (_F.rating, _F.created_at, _F.id),
        (_F.id, _F.comment),
        quantity=_F.rating,
        at=_F.created_at,
    ).where(_F.case_id.in_(_IDS)),
)
# A case's rows, or a page's: bounded by the ids given.
_CHILDREN = _PARTS.order_by(
    *(_PARTS.selected_columns[name] for name in ("k", "o_int", "o_at", "o_id"))
).execution_options(**POINT_READ)
_PAYMENTS = (
    select(_P.case_id, _P.id, _P.kind, _P.amount, _P.currency, _P.status, _P.updated_at)
    .where(_P.case_id.in_(_IDS))
    .order_by(_P.created_at, _P.id)
    .execution_options(**POINT_READ)
)
# The case and its customer in one query, read afresh (a workflow may just have written it).
_CASE_VIEW = (
    select(models.Case, *_CUSTOMER_COLUMNS)
    .outerjoin(models.CustomerRecord.__table__, _C.id == models.Case.customer_id)
    .where(models.Case.id == bindparam("case_id"))
    .execution_options(populate_existing=True, **POINT_READ)
)


_Grouped = defaultdict[str, list[Any]]


async def _by_case(
    session: AsyncSession, statement: Any, ids: list[str], record: type[Any]
) -> defaultdict[str, list[Any]]:
    grouped: defaultdict[str, list[Any]] = defaultdict(list)
    for row in await session.execute(statement, {"ids": ids}):
        grouped[row[0]].append(record(*row[1:]))
    return grouped


async def _children(session: AsyncSession, ids: list[str]) -> tuple[_Grouped, ...]:
    """Each case's items, timeline, documents, shipments and feedback, in their views'
    order."""
    items, timeline, documents, shipments, feedback = grouped = tuple(
        _Grouped(list) for _ in range(5)
    )
    for r in await session.execute(_CHILDREN, {"ids": ids}):
        kind = r.k
        if kind == _EVENT:
            timeline[r.case_id].append(TimelineRow(r.at, r.s0, r.s1, r.s2, r.detail))
        elif kind == _SHIPMENT:
            shipments[r.case_id].append(
                ShipmentRow(r.s0, r.s1, r.s2, r.s3, r.s4, r.s5, r.money, r.s6)
            )
        elif kind == _DOCUMENT:
            documents[r.case_id].append(DocumentRow(r.s0, r.s1, r.s2, r.s3))
        elif kind == _FEEDBACK:
            feedback[r.case_id].append(FeedbackRow(r.s0, r.quantity, r.s1, r.at))
        else:
            items[r.case_id].append(ItemRow(r.s0, r.s1, r.quantity, r.s2, r.money, r.s3))
    return grouped


async def _bundles(
    session: AsyncSession, cases: Sequence[models.Case], customers: dict[str, CustomerRow]
) -> list[CaseBundle]:
    ids = [case.id for case in cases]
    items, timeline, documents, shipments, feedback = await _children(session, ids)
    ledgers = [case.id for case in cases if case.case_type in SHOWS_PAYMENTS]
    payments = await _by_case(session, _PAYMENTS, ledgers, PaymentRow) if ledgers else None
    return [
        CaseBundle(
            case,
            customers.get(case.customer_id) if case.customer_id else None,
            items[case.id],
            timeline[case.id],
            documents[case.id],
            shipments[case.id],
            payments[case.id] if payments is not None else [],
            feedback[case.id][0] if feedback[case.id] else None,
        )
        for case in cases
    ]


async def load_case_bundles(
    session: AsyncSession, cases: Sequence[models.Case]
) -> list[CaseBundle]:
    """Every case's view data in two queries (three with payments), whatever the number
    of cases."""
    if not cases:
        return []
    customer_ids = [case.customer_id for case in cases if case.customer_id]
    customers = {
        row.id: CustomerRow(*row)
        for row in (
            await session.execute(_CUSTOMERS, {"ids": customer_ids}) if customer_ids else []
        )
    }
    return await _bundles(session, cases, customers)


async def load_case_bundle(session: AsyncSession, case: models.Case) -> CaseBundle:
    return (await load_case_bundles(session, [case]))[0]


async def load_case_view(
    session: AsyncSession,
    case_id: str,
    admit: Callable[[models.Case], Awaitable[object]] | None = None,
) -> CaseBundle | None:
    """The case as it is now (read afresh) with everything its view shows, or None; in two
    statements. `admit`, if given, sees the case before the rest is read (it refuses by
    raising): who may see it is decided on the row the view shows."""
    row = (await session.execute(_CASE_VIEW, {"case_id": case_id})).first()
    if row is None:
        return None
    case: models.Case = row[0]
    if admit is not None:
        await admit(case)
    customers = {row[1]: CustomerRow(*row[1:])} if row[1] is not None else {}
    return (await _bundles(session, [case], customers))[0]


async def plan_terms(session: AsyncSession, org_id: str, code: str) -> PlanTerms | None:
    """The catalog's current terms for a plan code (what a renewal is sold at), or None."""
    entry = await session.scalar(
        select(models.PlanCatalogEntry).where(
            models.PlanCatalogEntry.org_id == org_id, models.PlanCatalogEntry.code == code
        )
    )
    return None if entry is None else terms_from_document(entry.code, entry.terms)


def terms_from_document(code: str, document: dict[str, Any]) -> PlanTerms:
    """The stored catalog document (ISO durations, money as a string or `{amount}`) as terms."""

    def money(value: Any) -> Decimal:
        return Decimal(str(value["amount"] if isinstance(value, dict) else value))

    return PlanTerms(
        code=code,
        name=str(document["name"]),
        term_months=int(document["term_months"]),
        billing_period=BillingPeriod(document["billing_period"]),
        price=money(document["price"]),
        claim_limit=int(document["claim_limit"]),
        deductibles={ClaimType(k): money(v) for k, v in document.get("deductibles", {}).items()},
        waiting_period=_DURATION.validate_python(document.get("waiting_period", "PT0S")),
        incidents=frozenset(document.get("incidents", [])),
        cancel_full_refund_within=_DURATION.validate_python(
            document.get("cancel_full_refund_within", "P30D")
        ),
        renewal_notice=_DURATION.validate_python(document.get("renewal_notice", "P30D")),
        auto_renew=bool(document.get("auto_renew", True)),
    )


# ------------------------------------------------------------------ what a new case checks


def _held_serials() -> CompoundSelect[int, str]:
    case, item = models.Case.__table__.c, models.CaseItem.__table__.c
    items = models.CaseItem.__table__.join(models.Case.__table__, case.id == item.case_id)
    theirs = (
        case.org_id == bindparam("org_id"),
        item.serial.in_(bindparam("serials", expanding=True)),
    )
    in_open_case = (
        select(literal_column("0", Integer).label("k"), item.serial)
        .select_from(items)
        .where(
            *theirs,
            case.status.not_in(CLOSED_STATUSES),
            case.case_type != "service_plan",
            case.id != bindparam("except_case"),
        )
    )
    in_active_plan = (
        select(literal_column("1", Integer).label("k"), item.serial)
        .select_from(items)
        .where(*theirs, case.case_type == "service_plan", case.status == "active")
    )
    return union_all(in_open_case, in_active_plan)


# Built once, its values bound at execution: every case's creation asks it.
_HELD_SERIALS = _held_serials()


async def serials_held(
    session: AsyncSession, org_id: str, serials: Sequence[str], except_case: str
) -> tuple[list[str], list[str]]:
    """Of `serials`: those already in one of the organisation's open cases (`except_case`
    aside; a service plan covers a unit, it is not a case about it), and those an active
    service plan covers. One statement over the tables (no ORM loading)."""
    held: tuple[set[str], set[str]] = (set(), set())
    asked = {"org_id": org_id, "serials": list(serials), "except_case": except_case}
    for kind, serial in await session.execute(_HELD_SERIALS, asked):
        held[kind].add(serial)
    return sorted(held[0]), sorted(held[1])


async def serials_in_open_cases(
    session: AsyncSession, org_id: str, serials: Sequence[str], except_case: str
) -> list[str]:
    """Those of `serials` already in one of the organisation's open cases (`serials_held`)."""
    return (await serials_held(session, org_id, serials, except_case))[0]


async def serials_with_active_plans(
    session: AsyncSession, org_id: str, serials: Sequence[str]
) -> list[str]:
    """Those of `serials` an active service plan of the organisation covers (`serials_held`)."""
    return (await serials_held(session, org_id, serials, ""))[1]


# A plan in these covers its unit: a second one for the same unit is refused.
PLAN_HOLDING_STATUSES = ("waiting_period", "active", "past_due", "suspended")


async def plan_holding(session: AsyncSession, org_id: str, serial: str) -> str | None:
    """The id of the organisation's plan that covers this unit now, if any."""
    return await session.scalar(
        select(models.Case.id)
        .join(models.CaseItem, models.CaseItem.case_id == models.Case.id)
        .where(
            models.Case.org_id == org_id,
            models.Case.case_type == "service_plan",
            models.Case.status.in_(PLAN_HOLDING_STATUSES),
            models.CaseItem.serial == serial,
        )
        .limit(1)
    )
