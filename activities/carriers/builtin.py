"""The built-in carrier: stands in for a real one, the default of every organisation."""

from __future__ import annotations

import hashlib

from activities.carriers import BookedParcel, Booking, BookingJournal, BookingRequest


class BuiltinCarrier:
    """A carrier that needs no network: tracking numbers are derived from the booking key,
    so booking the same parcel twice gives the same tracking number, as a real carrier's
    idempotent booking API would. Its labels are the ones we draw."""

    name = "aftersales-post"
    needs_parcel = False

    async def book(self, request: BookingRequest, journal: BookingJournal) -> Booking:
        digest = hashlib.sha256(request.idempotency_key.encode()).digest()
        digits = str(int.from_bytes(digest[:10], "big")).zfill(18)[-16:]
        return Booking(carrier=self.name, service=request.service, tracking_number=f"AS{digits}")

    async def void(self, parcel: BookedParcel) -> None:
        return None
