"""Schemas of the RMA resource."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from api.schemas.common import (
    CustomerIn,
    DocumentOut,
    MoneyIO,
    NonEmpty,
    ShipmentOut,
    Strict,
    Text,
    TimelineEntryOut,
)
from domain.rma import Grade, Resolution, ReturnReason


class RmaItemIn(Strict):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    serial: NonEmpty
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    reason: ReturnReason
    notes: Text = ""


class RmaCreate(Strict):
    order_ref: NonEmpty
    purchased_at: AwareDatetime
    customer: CustomerIn
    items: Annotated[list[RmaItemIn], Field(min_length=1, max_length=100)]
    resolution: Resolution


class RejectBody(Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "rejected_by_retailer"


class CancelBody(Strict):
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


class ReceiveBody(Strict):
    note: Text = ""


class InspectionBody(Strict):
    grade: Grade
    serial_matches: bool
    notes: Text = ""


class RmaItemOut(BaseModel):
    sku: str
    serial: str
    quantity: int
    reason: str
    unit_price: MoneyIO
    notes: str


class RmaPublic(BaseModel):
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    tracking_token: str
    order_ref: str
    resolution: str | None
    reason: str | None
    coverage: str | None
    outcome: str | None
    refund: MoneyIO | None
    items: list[RmaItemOut]
    customer: dict[str, Any] | None
    timeline: list[TimelineEntryOut]
    documents: list[DocumentOut]
    shipments: list[ShipmentOut]
    repair_id: str | None = None
    replacement_id: str | None = None
    service_plan_id: str | None = None
