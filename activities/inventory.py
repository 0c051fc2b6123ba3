"""Inventory activities: reserve, release and consume replacement stock, once per key."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from activities.bad_data import refuses_bad_data
from db import inventory
from db.inventory import ReservationStatus
from domain.contracts.inventory import ReserveRequest, ReserveResult, SettleRequest


class InventoryActivities(stubs.InventoryActivities):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    @refuses_bad_data
    async def reserve_stock(self, request: ReserveRequest) -> ReserveResult:
        try:
            async with self.sessions.begin() as session:
                reserved = await inventory.reserve(
                    session, request.key, request.org_id, request.sku, request.case_id
                )
        except IntegrityError:
            # The same key was reserved concurrently (the API waking a backorder): read it.
            async with self.sessions.begin() as session:
                reserved = await inventory.reserve(
                    session, request.key, request.org_id, request.sku, request.case_id
                )
        return ReserveResult(reserved)

    @activity.defn
    @refuses_bad_data
    async def release_stock(self, request: SettleRequest) -> None:
        async with self.sessions.begin() as session:
            await inventory.settle(session, request.key, ReservationStatus.RELEASED)

    @activity.defn
    @refuses_bad_data
    async def consume_stock(self, request: SettleRequest) -> None:
        async with self.sessions.begin() as session:
            await inventory.settle(session, request.key, ReservationStatus.CONSUMED)
