"""Requests of the carrier activities (activities/carrier.py); the result is a
`domain.common.ShipmentRef`."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.common import Actor, Address, Direction

# The error type a booking the carrier refused fails with (its details: one
# `CarrierRefusal`): not retried, the case waits for the retailer to fix and retry it.
CARRIER_REFUSED = "CarrierRefused"
# The update every case with parcels takes a retry of a refused booking by.
RETRY_SHIPPING_UPDATE = "retry_shipping"


@dataclass
class BookShipment:
    idempotency_key: str
    org_id: str
    case_id: str
    workflow_id: str
    direction: Direction
    origin: Address
    destination: Address
    service: str = "Ground"
    # A return parcel, as the carrier prices and prints it.
    is_return: bool = False


@dataclass
class VoidShipment:
    tracking_number: str


@dataclass
class CarrierRefusal:
    """Why the carrier said no, in its words: its code (`ADDRESS.VERIFY.FAILURE`,
    `no_rates`), its message and the fields it named."""

    code: str
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class RetryShipping:
    """The retailer's retry of a refused booking; `address`, if given, replaces the
    customer's end of the parcel (where an inbound parcel comes from, where an outbound
    one goes)."""

    actor: Actor
    address: Address | None = None
