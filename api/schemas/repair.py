"""Schemas of repair centers and repair jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.common import (
    NO_CONTROL,
    NO_CONTROL_BUT_NEWLINE,
    AddressIn,
    Amount,
    CarrierErrorOut,
    CountryCode,
    CustomerIn,
    DocumentOut,
    Moment,
    MoneyIO,
    NonEmpty,
    OptionalLine,
    Reason,
    Serial,
    ShipmentOut,
    Sku,
    Strict,
    Text,
    TimelineEntryOut,
    column_length,
)
from api.schemas.feedback import FeedbackOut
from db import models
from domain.repair import RepairCoverage, RepairStatus

Category = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=column_length(models.Product.category)
    ),
    NO_CONTROL,
]


class RepairCenterProfile(Strict):
    """What a center repairs, where it takes work from, how much, and where parcels go."""

    categories: Annotated[list[Category], Field(min_length=1, max_length=100)]
    regions: Annotated[list[CountryCode], Field(min_length=1, max_length=250)] = Field(
        description="ISO 3166-1 alpha-2 countries whose customers this center serves"
    )
    daily_capacity: Annotated[int, Field(ge=0, le=100_000)]
    labor_rate: MoneyIO | Amount = Field(description="per hour of labor")
    address: AddressIn


class RepairCenterPublic(BaseModel):
    org_id: str
    categories: list[str]
    regions: list[str]
    daily_capacity: int
    labor_rate: MoneyIO
    address: dict[str, Any]
    open_jobs: int


class RepairUnitIn(Strict):
    sku: Sku
    serial: Serial
    purchased_at: Moment


class RepairCreate(Strict):
    unit: RepairUnitIn
    fault: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
        NO_CONTROL_BUT_NEWLINE,
    ]
    customer: CustomerIn
    coverage: RepairCoverage | None = Field(
        default=None,
        description="left out: `warranty` while the product's warranty runs, else `paid`",
    )


class StatusBody(Strict):
    status: RepairStatus
    note: Text = ""


class PartIn(Strict):
    part_no: NonEmpty
    description: OptionalLine = ""
    quantity: Annotated[int, Field(ge=1, le=1000)]
    unit_price: MoneyIO | Amount


class DiagnosisBody(Strict):
    fault_code: NonEmpty
    findings: Text = ""
    parts: Annotated[list[PartIn], Field(max_length=100)] = []
    labor_minutes: Annotated[int, Field(ge=0, le=100_000)]
    repairable: bool


class QaBody(Strict):
    passed: bool
    notes: Text = ""


class RepairCancelBody(Strict):
    reason: Reason = ""


class QuoteOut(BaseModel):
    parts_total: MoneyIO
    labor_total: MoneyIO
    total: MoneyIO
    expires_at: datetime
    outcome: str | None = Field(None, description="`approved`, `declined`, `expired` or null")


class RepairUnitOut(BaseModel):
    sku: str
    serial: str
    product_name: str
    category: str


class RepairPublic(BaseModel):
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    tracking_token: str | None = Field(None, description="shown to the retailer that owns it")
    coverage: str | None
    reason: str | None
    unit: RepairUnitOut
    fault: str
    customer: dict[str, Any] | None
    assigned_center: str | None
    quote: QuoteOut | None
    diagnosis: dict[str, Any] | None
    qa_failures: int
    sla_due_at: datetime | None
    sla_breached: bool
    carrier_error: CarrierErrorOut | None = Field(
        None, description="a booking the carrier refused, to fix and retry; retailer only"
    )
    timeline: list[TimelineEntryOut]
    documents: list[DocumentOut]
    shipments: list[ShipmentOut]
    rma_id: str | None = None
    replacement_id: str | None = None
    service_plan_id: str | None = None
    # The customer's rating once the case has ended (its owner's view only).
    feedback: FeedbackOut | None = None


class QuoteDecisionBody(Strict):
    approve: bool


class Verification(BaseModel):
    valid: bool
    kind: str
    case_id: str
    issued_at: datetime
    sha256: str
