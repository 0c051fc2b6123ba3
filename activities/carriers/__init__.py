"""What every carrier adapter offers: book and void a parcel. One module per carrier
(`builtin`, ...); `activities.providers` picks an organisation's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.common import Address


@dataclass(frozen=True)
class Booking:
    carrier: str
    service: str
    tracking_number: str


class Carrier(Protocol):
    name: str

    async def book(
        self, idempotency_key: str, origin: Address, destination: Address, service: str
    ) -> Booking: ...

    async def void(self, tracking_number: str) -> None: ...
