"""Schemas every resource shares: money, addresses, customers, timeline, documents."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.common import Address, Customer

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=2000)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class Strict(BaseModel):
    """Unknown fields are refused: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MoneyIO(Strict):
    amount: Amount
    currency: CurrencyCode = "USD"

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> MoneyIO:
        return cls(amount=amount.quantize(Decimal("0.01")), currency=currency)


class AddressIn(Strict):
    line1: NonEmpty
    line2: Annotated[str, StringConstraints(max_length=200)] = ""
    city: NonEmpty
    region: Annotated[str, StringConstraints(max_length=100)] = ""
    postal_code: NonEmpty
    country: CountryCode
    name: Annotated[str, StringConstraints(max_length=200)] = ""

    def to_domain(self) -> Address:
        return Address(
            line1=self.line1,
            line2=self.line2,
            city=self.city,
            region=self.region,
            postal_code=self.postal_code,
            country=self.country,
            name=self.name,
        )


class CustomerIn(Strict):
    name: NonEmpty
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    phone: Annotated[str, StringConstraints(max_length=64)] = ""
    address: AddressIn

    def to_domain(self) -> Customer:
        return Customer(
            name=self.name, email=self.email, phone=self.phone, address=self.address.to_domain()
        )


class TimelineEntryOut(BaseModel):
    at: datetime
    status: str
    event: str
    actor: str
    detail: dict[str, Any]


class DocumentOut(BaseModel):
    id: str
    kind: str
    url: str
    sha256: str
    verification_code: str | None = None


class ShipmentOut(BaseModel):
    id: str
    direction: str
    carrier: str
    tracking_number: str
    status: str


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
