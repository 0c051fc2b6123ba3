"""Carrier scans as received: each recorded once by its event id, with its shipment's status."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow
from domain.common import CarrierEvent


async def already_recorded(session: AsyncSession, event_id: str) -> bool:
    return await session.get(models.CarrierEventRecord, event_id) is not None


async def shipment_of(session: AsyncSession, tracking_number: str) -> models.Shipment | None:
    """The shipment with this tracking number, voided or not."""
    return await session.scalar(
        select(models.Shipment).where(models.Shipment.tracking_number == tracking_number)
    )


async def live_shipment(session: AsyncSession, tracking_number: str) -> models.Shipment | None:
    """The shipment with this tracking number, unless there is none or it was voided."""
    shipment = await shipment_of(session, tracking_number)
    return None if shipment is None or shipment.status == "voided" else shipment


async def record_scan(
    session: AsyncSession, shipment: models.Shipment, event: CarrierEvent
) -> bool:
    """Record the scan and set its shipment's status (commits). False when the same event
    was recorded meanwhile by a concurrent delivery of it: nothing is written then."""
    session.add(
        models.CarrierEventRecord(
            event_id=event.event_id,
            tracking_number=event.tracking_number,
            status=event.status.value,
            occurred_at=event.occurred_at,
            location=event.location,
        )
    )
    shipment.status = event.status.value
    shipment.updated_at = utcnow()
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True
