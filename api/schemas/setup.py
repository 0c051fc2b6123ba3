"""Schemas of organisations, keys, the retailer policy and the product catalog."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer, StringConstraints, model_validator

from api.auth import OrgKind
from api.schemas.common import (
    NO_CONTROL,
    AddressIn,
    Amount,
    CurrencyCode,
    Duration,
    LocaleTag,
    MoneyIO,
    Strict,
    TimeZoneName,
    amount_in,
    check_minor_units,
    column_length,
)
from db import models
from domain.common import DEFAULT_RETURN_ADDRESS, Policy
from domain.money import quantize_minor
from domain.portal import SLUG_PATTERN

PaperSize = Literal["A4", "Letter"]


class OrgCreate(Strict):
    name: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=column_length(models.Organisation.name)
        ),
        NO_CONTROL,
    ]
    kind: OrgKind


class OrgPublic(BaseModel):
    id: str
    name: str
    kind: OrgKind
    slug: str = Field(description="names the return portal: `/returns/{slug}`")
    default_locale: str = Field(
        "en", description="what customers who named no locale read in (BCP 47)"
    )
    default_time_zone: str = Field(
        "UTC", description="the clock customers who named no time zone read times on (IANA)"
    )
    paper_size: PaperSize = Field("Letter", description="packing slips and certificates")


Slug = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=column_length(models.Organisation.slug), pattern=SLUG_PATTERN
    ),
]


class OrgUpdate(Strict):
    """What PATCH /v1/orgs/{id} may change; a field left out stays as it is."""

    name: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True,
                min_length=1,
                max_length=column_length(models.Organisation.name),
            ),
            NO_CONTROL,
        ]
        | None
    ) = None
    slug: Slug | None = Field(
        None, description="lower-case letters, digits and inner hyphens, e.g. `acme-audio`"
    )
    default_locale: LocaleTag | None = Field(
        None, description="what customers who named no locale read in (BCP 47), e.g. `de-DE`"
    )
    default_time_zone: TimeZoneName | None = Field(
        None, description="the clock for customers who named no time zone (IANA)"
    )
    paper_size: PaperSize | None = Field(
        None, description="of packing slips and certificates; labels stay 4x6 in"
    )


class ApiKeyPublic(BaseModel):
    id: str
    key: str = Field(description="shown once; only its hash is stored")
    org_id: str


class ApiKeyInfo(BaseModel):
    """A key as listed: never the key or its hash, only what tells keys apart."""

    id: str
    prefix: str = Field(description="the key's first characters, to recognise it by")
    created_at: datetime
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None


Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=2),
    PlainSerializer(
        lambda d: int(d) if d == d.to_integral_value() else float(d),
        return_type=float | int,
        when_used="json",
    ),
]

_DEFAULTS = Policy()


class PolicyDocument(Strict):
    """A retailer's policy; every field may be left out and takes the default of api.md."""

    return_window: Duration = _DEFAULTS.return_window
    review_threshold: Amount = _DEFAULTS.review_threshold
    review_timeout: Duration = _DEFAULTS.review_timeout
    return_ship_by: Duration = _DEFAULTS.return_ship_by
    restocking_fee_percent: Percent = _DEFAULTS.restocking_fee_percent
    quote_valid_for: Duration = _DEFAULTS.quote_valid_for
    repair_turnaround: Duration = _DEFAULTS.repair_turnaround
    backorder_max: Duration = _DEFAULTS.backorder_max
    core_return_within: Duration = _DEFAULTS.core_return_within
    max_reschedules: Annotated[int, Field(ge=0, le=100)] = _DEFAULTS.max_reschedules
    dunning: Annotated[list[Duration], Field(max_length=20)] = Field(
        default_factory=lambda: list(_DEFAULTS.dunning)
    )
    grace_period: Duration = _DEFAULTS.grace_period
    currency: CurrencyCode = _DEFAULTS.currency
    repair_warranty: Duration = Field(
        default=_DEFAULTS.repair_warranty,
        description="guarantee on a repair, printed on its certificate (an addition to api.md)",
    )
    return_address: AddressIn = Field(
        default_factory=lambda: AddressIn(**DEFAULT_RETURN_ADDRESS.__dict__),
        description="where returned parcels go (an addition to api.md)",
    )

    @model_validator(mode="after")
    def _minor_units(self) -> PolicyDocument:
        # The threshold is an amount of the policy's currency: JPY has no decimals.
        self.review_threshold = quantize_minor(
            check_minor_units(self.review_threshold, self.currency), self.currency
        )
        return self

    def to_domain(self) -> Policy:
        return Policy(
            return_window=self.return_window,
            review_threshold=self.review_threshold,
            review_timeout=self.review_timeout,
            return_ship_by=self.return_ship_by,
            restocking_fee_percent=self.restocking_fee_percent,
            quote_valid_for=self.quote_valid_for,
            repair_turnaround=self.repair_turnaround,
            backorder_max=self.backorder_max,
            core_return_within=self.core_return_within,
            max_reschedules=self.max_reschedules,
            dunning=list(self.dunning),
            grace_period=self.grace_period,
            currency=self.currency,
            return_address=self.return_address.to_domain(),
            repair_warranty=self.repair_warranty,
        )


# A side of a parcel, in centimetres to the millimetre: up to 10 m (stored in Numeric(6, 1)).
Centimetres = Annotated[
    Decimal,
    Field(gt=0, le=1000, decimal_places=1),
    PlainSerializer(
        lambda d: int(d) if d == d.to_integral_value() else float(d),
        return_type=float | int,
        when_used="json",
    ),
]


class Dimensions(Strict):
    """The product's parcel as a carrier measures it."""

    length: Centimetres
    width: Centimetres
    height: Centimetres


class _ProductFields(Strict):
    name: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=column_length(models.Product.name)
        ),
        NO_CONTROL,
    ]
    category: Annotated[
        str,
        StringConstraints(min_length=1, max_length=column_length(models.Product.category)),
        NO_CONTROL,
    ]
    unit_price: MoneyIO | Amount
    warranty_months: Annotated[int, Field(ge=0, le=240)]
    weight_grams: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="the packed product's weight, for carrier rates"
    )
    dimensions_cm: Dimensions | None = Field(
        default=None, description="the packed product's size, for carrier rates"
    )

    def price(self, currency: str) -> Decimal:
        """The price in the catalog's currency (the policy's); ValueError when it has more
        decimals than that currency allows, or is in another."""
        return amount_in(self.unit_price, currency)


class ProductCreate(_ProductFields):
    sku: Annotated[
        str,
        Field(
            min_length=1,
            max_length=column_length(models.Product.sku),
            pattern=r"^[A-Za-z0-9._\-]+$",
        ),
    ]


class ProductUpdate(_ProductFields):
    """Every field of the product but its SKU (the path names it); weight and dimensions
    left out are cleared."""


class ProductPublic(BaseModel):
    id: str
    sku: str
    name: str
    category: str
    unit_price: MoneyIO
    warranty_months: int
    weight_grams: int | None = None
    dimensions_cm: Dimensions | None = None
