"""Requests of the carrier activities (activities/carrier.py); the result is a
`domain.common.ShipmentRef`."""

from __future__ import annotations

from dataclasses import dataclass

from domain.common import Address, Direction


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


@dataclass
class VoidShipment:
    tracking_number: str
