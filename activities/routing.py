"""Routing: which repair center takes a job (lifecycles.md §2), read from the read model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from db.repair_centers import route_job
from domain.contracts.routing import RouteRequest, RouteResult


class RoutingActivities(stubs.RoutingActivities):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def route_repair(self, request: RouteRequest) -> RouteResult:
        async with self.sessions() as session:
            center = await route_job(session, request.category, request.country, request.org_id)
        return RouteResult(center)
