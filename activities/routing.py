"""Routing: which repair center takes a job (lifecycles.md §2), read from the read model."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from db import models
from domain.common import CLOSED_STATUSES, Address
from domain.contracts.routing import RouteRequest, RouteResult
from domain.repair import AssignedCenter, CenterProfile, route


class RoutingActivities(stubs.RoutingActivities):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def route_repair(self, request: RouteRequest) -> RouteResult:
        async with self.sessions() as session:
            query = select(models.RepairCenter)
            if request.org_id:
                network = (
                    await session.scalars(
                        select(models.RepairNetworkMember.center_org_id).where(
                            models.RepairNetworkMember.retailer_org_id == request.org_id
                        )
                    )
                ).all()
                if network:
                    query = query.where(models.RepairCenter.org_id.in_(network))
            rows = (await session.scalars(query)).all()
            profiles = [
                CenterProfile(
                    org_id=row.org_id,
                    categories=frozenset(row.categories),
                    regions=frozenset(row.regions),
                    daily_capacity=row.daily_capacity,
                )
                for row in rows
            ]
            open_jobs = {
                org_id: count
                for org_id, count in (
                    await session.execute(
                        select(models.Case.receiving_org_id, func.count())
                        .where(
                            models.Case.case_type == "repair",
                            models.Case.receiving_org_id.is_not(None),
                            models.Case.status.not_in(CLOSED_STATUSES),
                        )
                        .group_by(models.Case.receiving_org_id)
                    )
                ).all()
                if org_id is not None
            }
            chosen = route(profiles, request.category, request.country, open_jobs)
            if chosen is None:
                return RouteResult()
            center = next(row for row in rows if row.org_id == chosen)
            org = await session.get(models.Organisation, chosen)
            name = org.name if org is not None else chosen
            return RouteResult(
                AssignedCenter(
                    org_id=chosen,
                    name=name,
                    address=_address(center.address, name),
                    labor_rate=Decimal(center.labor_rate),
                )
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
