"""Bodies of the shipping commands every case type with parcels takes."""

from __future__ import annotations

from api.schemas.common import AddressIn, Strict


class RetryShippingBody(Strict):
    """A retry of a booking the carrier refused. `address`, if given, replaces the
    customer's end of the parcel (where an inbound parcel comes from, where an outbound one
    goes): what a carrier's `ADDRESS.VERIFY.FAILURE` asks to fix."""

    address: AddressIn | None = None
