"""The built-in carrier: stands in for a real one, the default of every organisation."""

from __future__ import annotations

import hashlib

from activities.carriers import Booking
from domain.common import Address


class BuiltinCarrier:
    """A carrier that needs no network: tracking numbers are derived from the booking key,
    so booking the same parcel twice gives the same tracking number, as a real carrier's
    idempotent booking API would."""

    name = "aftersales-post"

    async def book(
        self, idempotency_key: str, origin: Address, destination: Address, service: str
    ) -> Booking:
        digest = hashlib.sha256(idempotency_key.encode()).digest()
        digits = str(int.from_bytes(digest[:10], "big")).zfill(18)[-16:]
        return Booking(carrier=self.name, service=service, tracking_number=f"AS{digits}")

    async def void(self, tracking_number: str) -> None:
        return None
