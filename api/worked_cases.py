"""Cases a retailer owns and a partner organisation works: repair jobs (their repair
center) and relocations (their provider). Who may see one, and how each side lists them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import OrgKind, Principal
from api.errors import not_found
from api.pagination import page, split
from db import models
from db.queries import CaseBundle, load_case_bundle


def is_owner(principal: Principal) -> bool:
    """A retailer lists the cases it owns; a partner those it works (what either sees of
    one is `case_views.Viewer`'s to decide)."""
    return principal.kind is OrgKind.RETAILER


async def visible_case(
    session: AsyncSession, principal: Principal, case_type: str, case_id: str
) -> models.Case:
    """The case if this key may see it: its retailer or the partner working it. Anyone
    else, another partner included, gets a 404."""
    principal.require(OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
    case = await session.get(models.Case, case_id)
    if case is None or case.case_type != case_type:
        raise not_found(case_type)
    if principal.kind is OrgKind.RETAILER and case.org_id == principal.owner_id:
        return case
    if principal.kind is OrgKind.REPAIR_CENTER and case.receiving_org_id == principal.owner_id:
        return case
    raise not_found(case_type)


async def worked_case(
    session: AsyncSession, principal: Principal, case_type: str, case_id: str
) -> models.Case:
    """The case for a command only its partner may give."""
    principal.require(OrgKind.REPAIR_CENTER)
    return await visible_case(session, principal, case_type, case_id)


async def list_cases(
    session: AsyncSession,
    principal: Principal,
    case_type: str,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[CaseBundle], str | None]:
    """A retailer's cases newest first; a partner's queue oldest first, as work is taken."""
    principal.require(OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
    owner = is_owner(principal)
    query = select(models.Case).where(models.Case.case_type == case_type)
    if owner:
        query = query.where(models.Case.org_id == principal.owner_id)
    else:
        query = query.where(models.Case.receiving_org_id == principal.owner_id)
    if status is not None:
        query = query.where(models.Case.status == status)
    rows, next_cursor = split(
        list((await session.scalars(page(query, cursor, limit, oldest_first=not owner))).all()),
        limit,
    )
    return [await load_case_bundle(session, row) for row in rows], next_cursor
