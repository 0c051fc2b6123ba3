"""Repair centers' own profiles (what they fix, where, how many a day, at what rate),
the jobs each has open, and routing a job to one of them (lifecycles.md §2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.outbox import table_of
from domain.common import Address
from domain.repair import OPEN_REPAIR_STATUSES, AssignedCenter, CenterProfile, fitting, route

_CENTERS = table_of(models.RepairCenter)
_CASES = table_of(models.Case)
_NETWORK = table_of(models.RepairNetworkMember)
_ORGS = table_of(models.Organisation)


async def put_profile(session: AsyncSession, org_id: str, fields: dict[str, Any]) -> None:
    """Write the center's profile columns (`fields`), creating it the first time (commits)."""
    row = await session.get(models.RepairCenter, org_id)
    if row is None:
        session.add(models.RepairCenter(org_id=org_id, **fields))
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    await session.commit()


async def profile(session: AsyncSession, org_id: str) -> models.RepairCenter | None:
    """The center's profile as committed now (read afresh after a write), or None."""
    return await session.get(models.RepairCenter, org_id, populate_existing=True)


async def open_jobs(session: AsyncSession, org_id: str) -> int:
    """Repair jobs sent to the center that have not ended."""
    return (await _open_jobs(session, [org_id])).get(org_id, 0)


# Counted by the index on (receiving_org_id, case_type, status): a seek per center and open
# status, whatever the number of jobs each center has ever closed (migration 0024). Before,
# every create read every repair case ever recorded: 27 ms per create at 40,000 repairs.
_OPEN_JOBS = (
    select(_CASES.c.receiving_org_id, func.count())
    .where(
        _CASES.c.receiving_org_id.in_(bindparam("centers", expanding=True)),
        _CASES.c.case_type == "repair",
        _CASES.c.status.in_([status.value for status in OPEN_REPAIR_STATUSES]),
    )
    .group_by(_CASES.c.receiving_org_id)
)


async def _open_jobs(session: AsyncSession, centers: list[str]) -> dict[str, int]:
    """Each of `centers`' open repair jobs (a center with none is absent)."""
    if not centers:
        return {}
    rows = await session.execute(_OPEN_JOBS, {"centers": centers})
    return {center: count for center, count in rows}


async def route_job(
    session: AsyncSession, category: str, country: str, org_id: str
) -> AssignedCenter | None:
    """The center for a unit of `category` in `country`, within the retailer's repair
    network if it has one, by the routing rule (`domain.repair.route`) over the centers'
    profiles and open jobs; None when no center fits."""
    c = _CENTERS.c
    query = select(c.org_id, c.categories, c.regions, c.daily_capacity, c.address, c.labor_rate)
    if org_id:
        n = _NETWORK.c
        network = (
            await session.scalars(select(n.center_org_id).where(n.retailer_org_id == org_id))
        ).all()
        if network:
            query = query.where(c.org_id.in_(network))
    rows = {row.org_id: row for row in await session.execute(query)}
    profiles = [
        CenterProfile(
            org_id=row.org_id,
            categories=frozenset(row.categories),
            regions=frozenset(row.regions),
            daily_capacity=row.daily_capacity,
        )
        for row in rows.values()
    ]
    # Only the centers the unit could go to have their open jobs counted.
    candidates = [center.org_id for center in fitting(profiles, category, country)]
    chosen = route(profiles, category, country, await _open_jobs(session, candidates))
    if chosen is None:
        return None
    center = rows[chosen]
    found = await session.scalar(select(_ORGS.c.name).where(_ORGS.c.id == chosen))
    name = found if found is not None else chosen
    return AssignedCenter(
        org_id=chosen,
        name=name,
        address=_address(center.address, name),
        labor_rate=Decimal(center.labor_rate),
    )


def _address(stored: dict[str, str], name: str) -> Address:
    return Address(
        line1=stored["line1"],
        line2=stored.get("line2", ""),
        city=stored["city"],
        region=stored.get("region", ""),
        postal_code=stored["postal_code"],
        country=stored["country"],
        name=stored.get("name") or name,
    )
