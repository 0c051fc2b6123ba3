"""What every carrier adapter offers: book and void a parcel. One module per carrier
(`builtin`, `easypost`, ...); `activities.providers` picks an organisation's.

An adapter speaks to its provider and nothing else: what it must remember between calls
(the provider's shipment, created but not yet bought) goes through the `BookingJournal` the
activity hands it, so a retried booking finds it and never buys twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from domain.common import Address, CarrierEvent


@dataclass(frozen=True)
class ParcelSize:
    """What a carrier rates a parcel by."""

    weight_grams: int
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal


# A parcel whose products' weight and size nobody gave: a shoebox of a kilogram, rated as
# such (the retailer sets real figures with PUT /v1/products/{sku}).
DEFAULT_PARCEL = ParcelSize(1000, Decimal(30), Decimal(20), Decimal(15))


@dataclass(frozen=True)
class BookingRequest:
    """One parcel to book. `idempotency_key` names the booking once per case and step;
    `reference` is the case number the carrier prints and reports back."""

    idempotency_key: str
    reference: str
    origin: Address
    destination: Address
    service: str
    is_return: bool
    parcel: ParcelSize = DEFAULT_PARCEL


@dataclass(frozen=True)
class Booking:
    carrier: str
    service: str
    tracking_number: str
    # The provider's own shipment, for its refund; None for the built-in carrier.
    provider_shipment_id: str | None = None
    cost: Decimal | None = None
    currency: str | None = None
    # The carrier's own 4x6 label; None: we draw ours.
    label_pdf: bytes | None = None


@dataclass(frozen=True)
class BookedParcel:
    """A booked parcel as a void names it."""

    tracking_number: str
    provider_shipment_id: str | None


class CarrierRefused(Exception):
    """The carrier said no to what we asked (a bad address, no rate for the parcel): asking
    again the same way gets the same answer, so the retailer must fix it first. Any other
    exception an adapter raises is taken as passing (5xx, timeouts) and retried."""

    def __init__(self, code: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors: list[dict[str, Any]] = errors or []


class BookingJournal(Protocol):
    """Where a booking remembers the provider's shipment between creating and buying it."""

    async def recall(self) -> str | None:
        """The provider shipment id an earlier attempt created, if any."""
        ...

    async def remember(self, provider_shipment_id: str) -> str:
        """Keep the provider shipment this attempt created, unless a concurrent attempt of
        the same booking kept one first: answers the one kept, the one to buy."""
        ...


class Carrier(Protocol):
    name: str
    # Whether it rates parcels by weight and size: if not, the booking does not look them up.
    needs_parcel: bool

    async def book(self, request: BookingRequest, journal: BookingJournal) -> Booking: ...

    async def void(self, parcel: BookedParcel) -> None: ...


@dataclass(frozen=True)
class TrackerUpdate:
    """A provider's tracking event, read but not yet trusted: the parcel it is about (which
    names the retailer whose secret must have signed it) and the scan it means, if any."""

    event_id: str
    tracking_number: str
    scan: CarrierEvent | None


class TrackingWebhook(Protocol):
    """How a provider's tracking webhook is read and verified (POST
    /v1/carrier-events/<provider>)."""

    def read(self, body: bytes) -> TrackerUpdate | None:
        """The event's parcel and scan; None for an event that is not about a parcel."""
        ...

    def verify(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool: ...
