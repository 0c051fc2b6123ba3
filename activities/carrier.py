"""Carrier activities: book and void parcels through an organisation's carrier adapter
(activities/carriers/)."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from activities.bad_data import refuses_bad_data
from activities.carriers import Booking, Carrier
from activities.carriers.builtin import BuiltinCarrier
from db import models
from db.types import utcnow
from domain.common import Direction, ShipmentRef
from domain.contracts.carrier import BookShipment, VoidShipment

__all__ = ["Booking", "BuiltinCarrier", "Carrier", "CarrierActivities"]


class CarrierActivities(stubs.CarrierActivities):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], carrier: Carrier) -> None:
        self.sessions = sessions
        self.carrier = carrier

    @activity.defn
    @refuses_bad_data
    async def book_shipment(self, request: BookShipment) -> ShipmentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        booking = await self.carrier.book(
            request.idempotency_key, request.origin, request.destination, request.service
        )
        now = utcnow()
        try:
            async with self.sessions.begin() as session:
                session.add(
                    models.Shipment(
                        org_id=request.org_id,
                        case_id=request.case_id,
                        workflow_id=request.workflow_id,
                        direction=request.direction.value,
                        carrier=booking.carrier,
                        service=booking.service,
                        tracking_number=booking.tracking_number,
                        status="label_created",
                        idempotency_key=request.idempotency_key,
                        from_address=asdict(request.origin),
                        to_address=asdict(request.destination),
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            # A concurrent attempt of the same step won the race: its row is the booking.
            pass
        shipment = await self._by_key(request.idempotency_key)
        if shipment is None:
            raise RuntimeError(f"shipment for {request.idempotency_key} vanished")
        return shipment

    @activity.defn
    async def void_shipment(self, request: VoidShipment) -> None:
        await self.carrier.void(request.tracking_number)
        async with self.sessions.begin() as session:
            shipment = await session.scalar(
                select(models.Shipment).where(
                    models.Shipment.tracking_number == request.tracking_number
                )
            )
            if shipment is not None and shipment.status != "voided":
                shipment.status = "voided"
                shipment.updated_at = utcnow()

    async def _by_key(self, key: str) -> ShipmentRef | None:
        async with self.sessions() as session:
            row = await session.scalar(
                select(models.Shipment).where(models.Shipment.idempotency_key == key)
            )
            if row is None:
                return None
            return ShipmentRef(
                id=row.id,
                direction=Direction(row.direction),
                carrier=row.carrier,
                tracking_number=row.tracking_number,
                service=row.service,
            )
