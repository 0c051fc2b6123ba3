"""Cases as routes find them: by id, by tracking token, by page, and the case one was
started from or carries on as. (A case's view, with its items, timeline, documents and
shipments, is loaded by `db.queries.load_case_bundles`.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.session import POINT_READ


async def case_by_id(session: AsyncSession, case_id: str) -> models.Case | None:
    return await session.get(models.Case, case_id)


async def case_by_token(session: AsyncSession, token: str) -> models.Case | None:
    """The case whose customer holds this tracking token."""
    return await session.scalar(select(models.Case).where(models.Case.tracking_token == token))


def forget_read_cases(session: AsyncSession) -> None:
    """Forget every row the session has read, so that the next read of a case (or of what
    it links to) loads it as its workflow has written it since: after a command."""
    session.expire_all()


async def case_of_type(session: AsyncSession, case_type: str, case_id: str) -> models.Case | None:
    case = await session.get(models.Case, case_id, execution_options=POINT_READ)
    return case if case is not None and case.case_type == case_type else None


async def receiving_org(session: AsyncSession, case_id: str) -> str | None:
    """The organisation a case's unit is sent to (a repair's center), if any."""
    return await session.scalar(
        select(models.Case.receiving_org_id).where(models.Case.id == case_id)
    )


async def case_page(
    session: AsyncSession,
    *,
    case_type: str,
    org_id: str | None = None,
    receiving_org_id: str | None = None,
    status: str | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int,
    oldest_first: bool = False,
) -> list[models.Case]:
    """Up to `limit` cases of an owner (`org_id`) or of the partner they are sent to
    (`receiving_org_id`), keyset-paged over (created_at, id) after the `after` key: stable
    under concurrent inserts."""
    case = models.Case
    query = select(case).where(case.case_type == case_type)
    if org_id is not None:
        query = query.where(case.org_id == org_id)
    if receiving_org_id is not None:
        query = query.where(case.receiving_org_id == receiving_org_id)
    if status is not None:
        query = query.where(case.status == status)
    if after is not None:
        created, after_id = after
        if oldest_first:
            query = query.where(
                or_(case.created_at > created, and_(case.created_at == created, case.id > after_id))
            )
        else:
            query = query.where(
                or_(case.created_at < created, and_(case.created_at == created, case.id < after_id))
            )
    order = (
        (case.created_at.asc(), case.id.asc())
        if oldest_first
        else (case.created_at.desc(), case.id.desc())
    )
    return list((await session.scalars(query.order_by(*order).limit(limit))).all())


@dataclass(frozen=True, slots=True)
class WorkedCase:
    """A case on a partner's work board: the case row, and its customer's name (the only
    personal datum a partner's board shows)."""

    case: models.Case
    customer_name: str


async def cases_worked_by(
    session: AsyncSession,
    receiving_org_id: str,
    case_types: Sequence[str],
    statuses: Sequence[str],
    limit: int,
) -> list[WorkedCase]:
    """Up to `limit` cases of `case_types` in `statuses` sent to a partner (a repair center's
    jobs, a provider's field work), oldest first, with their customers' names: one
    statement, whatever the number of cases."""
    case, customer = models.Case, models.CustomerRecord
    rows = await session.execute(
        select(case, customer.name)
        .outerjoin(customer, customer.id == case.customer_id)
        .where(
            case.receiving_org_id == receiving_org_id,
            case.case_type.in_(case_types),
            case.status.in_(statuses),
        )
        .order_by(case.created_at.asc(), case.id.asc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return [WorkedCase(row[0], row[1] or "") for row in rows]
