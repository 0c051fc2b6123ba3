"""Carrier activities: book and void parcels through an organisation's carrier adapter
(activities/carriers/), and keep what the booking brought (tracking number, cost, the
carrier's own label) on the shipment row."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from decimal import Decimal
from typing import Protocol, runtime_checkable

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import stubs
from activities.bad_data import refuses_bad_data
from activities.carriers import (
    DEFAULT_PARCEL,
    BookedParcel,
    Booking,
    BookingRequest,
    Carrier,
    CarrierRefused,
    ParcelSize,
)
from activities.carriers.builtin import BuiltinCarrier
from db import models
from db.document_store import DocumentStore
from db.outbox import table_of
from db.session import POINT_READ
from db.types import utcnow
from db.writer import ReadModelWriter
from domain.common import Direction, ShipmentRef
from domain.contracts.carrier import CARRIER_REFUSED, BookShipment, VoidShipment

__all__ = ["Booking", "BuiltinCarrier", "Carrier", "CarrierActivities", "CarrierSource"]

log = logging.getLogger(__name__)

# Core statements: a booking writes one row and reads it back only when a concurrent
# attempt of the same step won (no ORM unit of work for a row written once).
_SHIPMENTS = table_of(models.Shipment)
_BY_KEY = (
    select(
        _SHIPMENTS.c.id,
        _SHIPMENTS.c.direction,
        _SHIPMENTS.c.carrier,
        _SHIPMENTS.c.tracking_number,
        _SHIPMENTS.c.service,
        _SHIPMENTS.c.label_sha256,
    )
    .where(_SHIPMENTS.c.idempotency_key == bindparam("key"))
    .execution_options(**POINT_READ)
)


class CarrierSource(Protocol):
    """Who carries an organisation's parcels (`activities.providers`)."""

    async def carrier_for(self, org_id: str) -> Carrier: ...


@runtime_checkable
class _HasCarrierFor(Protocol):
    async def carrier_for(self, org_id: str) -> Carrier: ...


class OneCarrier:
    """Every organisation's parcels with one carrier: the built-in one unless said."""

    def __init__(self, carrier: Carrier | None = None) -> None:
        self.carrier = carrier or BuiltinCarrier()

    async def carrier_for(self, org_id: str) -> Carrier:
        return self.carrier


class CarrierActivities(stubs.CarrierActivities):
    """`carriers` names each organisation's carrier (a single adapter stands for all);
    `store` keeps the labels carriers draw themselves."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        carriers: CarrierSource | Carrier,
        store: DocumentStore | None = None,
        writer: ReadModelWriter | None = None,
    ) -> None:
        self.sessions = sessions
        # Where a booking's shipment is stored (the worker's writer has a thread of its own).
        self.writer = writer or ReadModelWriter.on_loop(sessions)
        self.carriers: CarrierSource = (
            carriers if isinstance(carriers, _HasCarrierFor) else OneCarrier(carriers)
        )
        self.store = store

    @activity.defn
    @refuses_bad_data
    async def book_shipment(self, request: BookShipment) -> ShipmentRef:
        existing = await self._by_key(request.idempotency_key)
        if existing is not None:
            return existing
        carrier = await self.carriers.carrier_for(request.org_id)
        journal = _Journal(self.sessions, request.idempotency_key, request.org_id, carrier.name)
        try:
            booking = await carrier.book(
                BookingRequest(
                    idempotency_key=request.idempotency_key,
                    reference=request.case_id,
                    origin=request.origin,
                    destination=request.destination,
                    service=request.service,
                    is_return=request.is_return,
                    parcel=(
                        await self._parcel_of(request.case_id)
                        if carrier.needs_parcel
                        else DEFAULT_PARCEL
                    ),
                ),
                journal,
            )
        except CarrierRefused as refused:
            raise ApplicationError(
                f"{carrier.name} refused the booking: {refused.message}",
                {
                    "code": refused.code,
                    "message": refused.message,
                    "errors": [_text_values(e) for e in refused.errors],
                },
                type=CARRIER_REFUSED,
                non_retryable=True,
            ) from refused
        label_sha256 = await self._keep_label(booking)
        now = utcnow()
        shipment_id = models.new_id()
        try:
            await self.writer.transaction(
                lambda session: session.execute(
                    insert(_SHIPMENTS),
                    {
                        "id": shipment_id,
                        "org_id": request.org_id,
                        "case_id": request.case_id,
                        "workflow_id": request.workflow_id,
                        "direction": request.direction.value,
                        "carrier": booking.carrier,
                        "service": booking.service,
                        "tracking_number": booking.tracking_number,
                        "status": "label_created",
                        "idempotency_key": request.idempotency_key,
                        "from_address": asdict(request.origin),
                        "to_address": asdict(request.destination),
                        "provider": carrier.name,
                        "provider_shipment_id": booking.provider_shipment_id,
                        "cost": booking.cost,
                        "currency": booking.currency,
                        "label_sha256": label_sha256,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            )
        except IntegrityError:
            # A concurrent attempt of the same step won the race: its row is the booking.
            shipment = await self._by_key(request.idempotency_key)
            if shipment is None:
                raise RuntimeError(f"shipment for {request.idempotency_key} vanished") from None
            return shipment
        return ShipmentRef(
            id=shipment_id,
            direction=request.direction,
            carrier=booking.carrier,
            tracking_number=booking.tracking_number,
            service=booking.service,
            label_sha256=label_sha256 or "",
        )

    @activity.defn
    async def void_shipment(self, request: VoidShipment) -> None:
        async with self.sessions() as session:
            row = await session.scalar(
                select(models.Shipment).where(
                    models.Shipment.tracking_number == request.tracking_number
                )
            )
        if row is not None and row.status != "voided":
            await self._refund(row)
        async with self.sessions.begin() as session:
            shipment = await session.scalar(
                select(models.Shipment).where(
                    models.Shipment.tracking_number == request.tracking_number
                )
            )
            if shipment is not None and shipment.status != "voided":
                shipment.status = "voided"
                shipment.updated_at = utcnow()

    async def _refund(self, row: models.Shipment) -> None:
        """Give the label back to the carrier that sold it. A carrier that will not take it
        back (used, too old) leaves it voided with us all the same: no scan of it counts."""
        carrier = await self.carriers.carrier_for(row.org_id)
        if row.provider is not None and carrier.name != row.provider:
            log.warning(
                "label %s was bought from %s, no longer the org's carrier: not refunded",
                row.tracking_number,
                row.provider,
            )
            return
        try:
            await carrier.void(BookedParcel(row.tracking_number, row.provider_shipment_id))
        except CarrierRefused as refused:
            log.warning("%s kept label %s: %s", carrier.name, row.tracking_number, refused)

    async def _keep_label(self, booking: Booking) -> str | None:
        if booking.label_pdf is None:
            return None
        if self.store is None:
            raise RuntimeError("a carrier that draws its own labels needs the document store")
        sha, _ = await asyncio.to_thread(self.store.put, booking.label_pdf)
        return sha

    async def _parcel_of(self, case_id: str) -> ParcelSize:
        """The case's units as one parcel: their weights summed, the largest of each side,
        the default parcel's figure for what no product says."""
        items = models.CaseItem
        products = models.Product
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        items.quantity,
                        products.weight_grams,
                        products.length_cm,
                        products.width_cm,
                        products.height_cm,
                    )
                    .join(models.Case, models.Case.id == items.case_id)
                    .outerjoin(
                        products,
                        (products.org_id == models.Case.org_id) & (products.sku == items.sku),
                    )
                    .where(items.case_id == case_id)
                )
            ).all()
        if not rows:
            return DEFAULT_PARCEL
        weight = sum(
            (grams or DEFAULT_PARCEL.weight_grams) * max(quantity, 1)
            for quantity, grams, *_ in rows
        )
        default = (DEFAULT_PARCEL.length_cm, DEFAULT_PARCEL.width_cm, DEFAULT_PARCEL.height_cm)
        sides = [(ln, wd, ht) for _, _, ln, wd, ht in rows if ln is not None and wd and ht]
        length, width, height = (
            max(Decimal(side[i]) for side in sides or [default]) for i in range(3)
        )
        return ParcelSize(int(weight), length, width, height)

    async def _by_key(self, key: str) -> ShipmentRef | None:
        async with self.sessions() as session:
            row = (await session.execute(_BY_KEY, {"key": key})).first()
        if row is None:
            return None
        return ShipmentRef(
            id=row.id,
            direction=Direction(row.direction),
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            service=row.service,
            label_sha256=row.label_sha256 or "",
        )


class _Journal:
    """The provider shipment a booking created, kept by the booking's key."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], key: str, org_id: str, provider: str
    ) -> None:
        self.sessions = sessions
        self.key = key
        self.org_id = org_id
        self.provider = provider

    async def recall(self) -> str | None:
        async with self.sessions() as session:
            row = await session.get(models.CarrierBooking, self.key)
            return (
                None if row is None or row.provider != self.provider else row.provider_shipment_id
            )

    async def remember(self, provider_shipment_id: str) -> str:
        try:
            async with self.sessions.begin() as session:
                row = await session.get(models.CarrierBooking, self.key)
                if row is None:
                    session.add(
                        models.CarrierBooking(
                            idempotency_key=self.key,
                            org_id=self.org_id,
                            provider=self.provider,
                            provider_shipment_id=provider_shipment_id,
                            created_at=utcnow(),
                        )
                    )
                elif row.provider == self.provider:
                    # A concurrent attempt kept its shipment after this one recalled none.
                    return row.provider_shipment_id
                else:
                    # The org changed carrier between two attempts: the new one's shipment.
                    row.provider = self.provider
                    row.provider_shipment_id = provider_shipment_id
        except IntegrityError:
            # A concurrent attempt inserted the key's row first: its shipment stands.
            kept = await self.recall()
            if kept is None:
                raise
            return kept
        return provider_shipment_id


def _text_values(entry: dict[str, object]) -> dict[str, str]:
    """A carrier's field error as text, for history and the timeline."""
    return {str(k): str(v) for k, v in entry.items() if v is not None}
