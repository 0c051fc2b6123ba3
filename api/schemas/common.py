"""Schemas every resource shares: money, addresses, customers, timeline, documents."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FutureDatetime,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    NaiveDatetime,
    PastDatetime,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema
from sqlalchemy.orm import InstrumentedAttribute

from db import models
from domain.common import Address, Customer
from domain.money import fits_minor_units, minor_units, quantize_minor
from presentation.i18n import canonical_locale, canonical_time_zone

# ------------------------------------------------------------------ input bounds
#
# Every string a client sends either lands in a column (then its limit is the column's, read
# from db/models.py so the two cannot drift apart) or inside a JSON column (then a limit
# here). No string may carry a C0 control character or DEL: PostgreSQL refuses NUL in text,
# and the others only ever forge log lines, labels or emails. Free-text notes may span
# lines, so `\n` is the one control character they accept.


def column_length(attribute: InstrumentedAttribute[Any]) -> int:
    """The length of a `String(n)` column: the longest value the read model stores."""
    length: int | None = getattr(attribute.expression.type, "length", None)
    if length is None:
        raise TypeError(f"{attribute} is not a bounded string column")
    return length


def column_bound(
    attribute: InstrumentedAttribute[Any], *, min_length: int = 0, strip: bool = False
) -> StringConstraints:
    """The length constraint of a field stored in `attribute`'s column."""
    return StringConstraints(
        strip_whitespace=strip, min_length=min_length, max_length=column_length(attribute)
    )


class _RefuseControl:
    """A string validator that refuses C0 control characters and DEL (`allowed` excepted),
    documented in the OpenAPI schema as a pattern when the field has none of its own."""

    def __init__(self, allowed: str = "") -> None:
        excluded = [c for c in [*range(0x20), 0x7F] if chr(c) not in allowed]
        ranges: list[list[int]] = []
        for code in excluded:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
        klass = "".join(
            f"\\x{low:02x}" if low == high else f"\\x{low:02x}-\\x{high:02x}"
            for low, high in ranges
        )
        self.found = re.compile(f"[{klass}]")
        self.pattern = f"^[^{klass}]*$"

    def check(self, value: str) -> str:
        bad = self.found.search(value)
        if bad:
            raise ValueError(
                f"control character U+{ord(bad.group()):04X} at position {bad.start()} "
                "is not allowed"
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Checked before anything else sees the value: a field that strips whitespace must
        # still refuse a trailing form feed, as its documented pattern says.
        def refuse(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Any:
            return inner(self.check(value) if isinstance(value, str) else value)

        return core_schema.no_info_wrap_validator_function(refuse, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        if target.get("type") == "string" and "pattern" not in target:
            target["pattern"] = self.pattern
        return json_schema


NO_CONTROL = _RefuseControl()
NO_CONTROL_BUT_NEWLINE = _RefuseControl(allowed="\n")

# One line of text: names, codes, references, reasons.
Plain = Annotated[str, NO_CONTROL]
NonEmpty = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NO_CONTROL
]
# Free text a person writes (notes, findings): lines allowed.
Text = Annotated[str, StringConstraints(max_length=2000), NO_CONTROL_BUT_NEWLINE]
OptionalLine = Annotated[str, StringConstraints(max_length=200), NO_CONTROL]
# A free string in a query (a filter): compared with columns, never stored.
QueryText = Annotated[str, StringConstraints(max_length=200), NO_CONTROL]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# A BCP 47 language tag CLDR knows (`de-DE`, `fr`, `ja-JP`), kept in its canonical spelling.
LocaleTag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=35),
    NO_CONTROL,
    AfterValidator(canonical_locale),
    Field(description="BCP 47 language tag, e.g. `de-DE`", examples=["de-DE"]),
]
# An IANA time zone (`Europe/Berlin`).
TimeZoneName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    NO_CONTROL,
    AfterValidator(canonical_time_zone),
    Field(description="IANA time zone, e.g. `Europe/Berlin`", examples=["Europe/Berlin"]),
]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# At most three decimals (the most any currency has, KWD's); the currency's own minor
# units are checked where the currency is known (`MoneyIO`, `amount_in`).
Amount = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=3)]

Sku = Annotated[
    str, StringConstraints(min_length=1, max_length=column_length(models.Product.sku)), NO_CONTROL
]
Serial = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=column_length(models.CaseItem.serial)
    ),
    NO_CONTROL,
]
# A reason a case ends with is kept in `cases.reason`.
Reason = Annotated[str, StringConstraints(max_length=column_length(models.Case.reason)), NO_CONTROL]
PaymentMethod = Annotated[
    str,
    StringConstraints(min_length=1, max_length=column_length(models.Payment.payment_method)),
    NO_CONTROL,
]
OrgId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=column_length(models.Organisation.id)
    ),
    NO_CONTROL,
]

# Ten years (leap days included, so `P10Y` fits): longer waits are typing mistakes, and
# `P3000000D` would overflow the clock arithmetic of the workflow that keeps the case.
MAX_DURATION = timedelta(days=3653)
Duration = Annotated[timedelta, Field(gt=timedelta(0), le=MAX_DURATION)]
NonNegativeDuration = Annotated[timedelta, Field(ge=timedelta(0), le=MAX_DURATION)]

# A moment a client names (a purchase, an appointment, a scan): plausible years only, so
# adding a policy's durations or a warranty's months to it stays a valid date.
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2200, 1, 1, tzinfo=UTC)


def _plausible(moment: datetime) -> datetime:
    if not EARLIEST_MOMENT <= moment < LATEST_MOMENT:
        raise ValueError(
            f"must lie between {EARLIEST_MOMENT.year} and {LATEST_MOMENT.year - 1} (a typo?)"
        )
    return moment


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _written_as_a_moment(value: Any) -> Any:
    """A moment comes as RFC 3339 text: pydantic would also read `0` or `"0.5"` as seconds
    since 1970, which no client means."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value.strip()):
        raise ValueError("must be a date and time as RFC 3339 writes it: 2026-11-20T10:00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_written_as_a_moment), AfterValidator(_plausible)]


class Strict(BaseModel):
    """Unknown fields are refused: a typo must not be silently ignored. A value of another
    JSON type than the schema's is refused too (`true` is not a quantity, `0` not a date,
    `"15"` not a percentage), where pydantic would otherwise convert it."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _json_types(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        checked = dict(data)
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if key in checked:
                checked[key] = _refused_if_converted(field.annotation, checked[key])
        return checked


class _OfAnotherType:
    """Stands in for a value of the wrong JSON type, so that pydantic refuses it with the
    field's own error (`Input should be a valid integer`, at the field's location)."""

    def __repr__(self) -> str:
        return "a value of another JSON type"


def _refused_if_converted(annotation: Any, value: Any) -> Any:
    if isinstance(value, list) and get_origin(annotation) in (list, tuple, set, frozenset):
        members = get_args(annotation)
        member = members[0] if members else Any
        return [_refused_if_converted(member, item) for item in value]
    return value if _json_type_fits(annotation, value) else _OfAnotherType()


# What JSON carries as a string: dates and durations (a decimal may be a number too).
_AS_TEXT = (datetime, date, timedelta, AwareDatetime, NaiveDatetime, PastDatetime, FutureDatetime)


def _json_type_fits(annotation: Any, value: Any) -> bool:
    """Whether a parsed JSON value has a type `annotation` takes without conversion (the
    annotation's own instances are fine too: a route may build the model in Python)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _json_type_fits(get_args(annotation)[0], value)
    if origin in (Union, UnionType):
        return any(_json_type_fits(member, value) for member in get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin in (list, tuple, set, frozenset):
        members = get_args(annotation)
        return isinstance(value, list | tuple | set | frozenset) and all(
            _json_type_fits(members[0] if members else Any, item) for item in value
        )
    if not isinstance(annotation, type):
        return True  # Any, Literal, TypeVars: pydantic checks them
    if isinstance(value, annotation):
        return annotation is not int or not isinstance(value, bool)
    if issubclass(annotation, Enum):  # of its values' type; pydantic names the values
        return not isinstance(value, bool) and any(
            isinstance(value, type(member.value)) for member in annotation
        )
    if issubclass(annotation, bool) or issubclass(annotation, int):
        return False
    if issubclass(annotation, Decimal):
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    if issubclass(annotation, float):
        return isinstance(value, int) and not isinstance(value, bool)
    if issubclass(annotation, _AS_TEXT):
        return isinstance(value, str)
    return True


class MoneyIO(Strict):
    """An amount with exactly its currency's minor units: `1234` JPY, `12.30` USD,
    `1.500` KWD. One with more decimals than its currency has is refused (422)."""

    amount: Amount
    currency: CurrencyCode = "USD"

    @model_validator(mode="after")
    def _minor_units(self) -> MoneyIO:
        check_minor_units(self.amount, self.currency)
        return self

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> MoneyIO:
        return cls(amount=quantize_minor(amount, currency), currency=currency)


def check_minor_units(amount: Decimal, currency: str) -> Decimal:
    """`amount`, or ValueError when it has more decimals than `currency` allows."""
    if not fits_minor_units(amount, currency):
        units = minor_units(currency)
        raise ValueError(
            f"{currency} amounts have {units} decimal{'' if units == 1 else 's'}; {amount} has more"
        )
    return amount


def amount_in(value: MoneyIO | Decimal, currency: str) -> Decimal:
    """A bare amount or a `MoneyIO` as an amount of `currency` (the catalog's, the
    policy's), with that currency's minor units; ValueError when it has more decimals, or
    is a `MoneyIO` of another currency."""
    if isinstance(value, MoneyIO):
        if value.currency != currency:
            raise ValueError(f"amounts here are in {currency}, not {value.currency}")
        value = value.amount
    return quantize_minor(check_minor_units(value, currency), currency)


class AmountError(ValueError):
    """An amount of the body whose currency only the route knows (the retailer's, the
    case's) has more decimals than that currency has, or is in another: `field` is its path
    in the body, for the 422."""

    def __init__(self, field: tuple[str | int, ...], reason: ValueError) -> None:
        super().__init__(str(reason))
        self.field = field


def check_amount(field: tuple[str | int, ...], value: MoneyIO | Decimal, currency: str) -> Decimal:
    """`amount_in`, its refusal naming the body's `field`."""
    try:
        return amount_in(value, currency)
    except ValueError as exc:
        raise AmountError(field, exc) from exc


class AddressIn(Strict):
    line1: NonEmpty
    line2: OptionalLine = ""
    city: NonEmpty
    region: Annotated[str, StringConstraints(max_length=100), NO_CONTROL] = ""
    postal_code: NonEmpty
    country: CountryCode
    name: OptionalLine = ""

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
    name: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=1,
            max_length=column_length(models.CustomerRecord.name),
        ),
        NO_CONTROL,
    ]
    email: Annotated[
        str,
        StringConstraints(
            max_length=column_length(models.CustomerRecord.email),
            pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
        ),
        NO_CONTROL,
    ]
    phone: Annotated[
        str, StringConstraints(max_length=column_length(models.CustomerRecord.phone)), NO_CONTROL
    ] = ""
    address: AddressIn
    locale: LocaleTag | None = Field(
        None,
        description="the language of the customer's tracking page, emails and documents "
        "(BCP 47); omitted: the retailer's default_locale",
    )
    time_zone: TimeZoneName | None = Field(
        None,
        description="the clock the customer's times are shown on (IANA); omitted: the "
        "retailer's default_time_zone",
    )

    def to_domain(self) -> Customer:
        return Customer(
            name=self.name,
            email=self.email,
            phone=self.phone,
            address=self.address.to_domain(),
            locale=self.locale or "",
            time_zone=self.time_zone or "",
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
    service: str
    tracking_number: str
    status: str
    cost: MoneyIO | None = Field(
        None, description="what the label cost with a real carrier; shown to the retailer only"
    )


class CarrierErrorOut(BaseModel):
    """A booking the carrier refused: the case waits until the retailer fixes what the
    carrier named and sends `POST .../retry-shipping`."""

    code: str = Field(description="the carrier's code, e.g. ADDRESS.VERIFY.FAILURE, no_rates")
    message: str
    direction: str = Field(description="the parcel refused: inbound or outbound")
    errors: list[dict[str, str]] = Field(description="the fields the carrier named")


class PaymentActionOut(BaseModel):
    """A payment waiting for the customer to confirm it with their bank (3-D Secure): the
    case stands still until then, and counts it declined at `expires_at`."""

    url: str = Field(description="the bank's page; the tracking page and an email link to it")
    since: datetime
    expires_at: datetime
    amount: MoneyIO
    kind: str


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
