"""Carrier scans as received: each recorded once by its event id, with its shipment's status.

Core statements on plain rows: a scan is two short requests' worth of reads and one write,
on every parcel movement, and the ORM's identity map and flush cost more than they do."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.outbox import table_of
from db.session import POINT_READ
from db.types import utcnow
from domain.common import CarrierEvent

_EVENTS = table_of(models.CarrierEventRecord)
_SHIPMENTS = table_of(models.Shipment)

_RECORDED = (
    select(_EVENTS.c.event_id)
    .where(_EVENTS.c.event_id == bindparam("event_id"))
    .execution_options(**POINT_READ)
)
_SHIPMENT = (
    select(_SHIPMENTS.c.id, _SHIPMENTS.c.org_id, _SHIPMENTS.c.workflow_id, _SHIPMENTS.c.status)
    .where(_SHIPMENTS.c.tracking_number == bindparam("tracking_number"))
    .execution_options(**POINT_READ)
)


@dataclass(frozen=True)
class ScannedShipment:
    """What a scan needs of the parcel it is about: whose it is, which case's workflow hears
    it, and whether it was voided."""

    id: str
    org_id: str
    workflow_id: str
    status: str


async def already_recorded(session: AsyncSession, event_id: str) -> bool:
    return (await session.execute(_RECORDED, {"event_id": event_id})).first() is not None


async def shipment_of(session: AsyncSession, tracking_number: str) -> ScannedShipment | None:
    """The shipment with this tracking number, voided or not."""
    row = (await session.execute(_SHIPMENT, {"tracking_number": tracking_number})).first()
    return None if row is None else ScannedShipment(row.id, row.org_id, row.workflow_id, row.status)


async def live_shipment(session: AsyncSession, tracking_number: str) -> ScannedShipment | None:
    """The shipment with this tracking number, unless there is none or it was voided."""
    shipment = await shipment_of(session, tracking_number)
    return None if shipment is None or shipment.status == "voided" else shipment


async def record_scan(
    session: AsyncSession, shipment: ScannedShipment, event: CarrierEvent
) -> bool:
    """Record the scan and set its shipment's status (commits). False when the same event
    was recorded meanwhile by a concurrent delivery of it: nothing is written then."""
    now = utcnow()
    try:
        await session.execute(
            insert(_EVENTS),
            {
                "event_id": event.event_id,
                "tracking_number": event.tracking_number,
                "status": event.status.value,
                "occurred_at": event.occurred_at,
                "location": event.location,
                "received_at": now,
            },
        )
        await session.execute(
            update(_SHIPMENTS)
            .where(_SHIPMENTS.c.id == shipment.id)
            .values(status=event.status.value, updated_at=now)
        )
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True
