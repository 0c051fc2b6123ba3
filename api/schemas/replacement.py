"""Schemas of inventory and replacements."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import (
    CarrierErrorOut,
    CustomerIn,
    DocumentOut,
    MoneyIO,
    PaymentActionOut,
    PaymentMethod,
    Reason,
    Serial,
    ShipmentOut,
    Sku,
    Strict,
    Text,
    TimelineEntryOut,
)
from api.schemas.feedback import FeedbackOut
from domain.replacement import ReplacementMode


class InventoryIn(Strict):
    quantity: Annotated[int, Field(ge=0, le=10_000_000)] = Field(
        description="units on hand for replacements, reserved ones included"
    )


class InventoryOut(BaseModel):
    sku: str
    quantity: int
    reserved: int
    available: int


class ReplacementUnitIn(Strict):
    sku: Sku
    serial: Serial


class ReplacementCreate(Strict):
    mode: ReplacementMode
    unit: ReplacementUnitIn
    replacement_sku: Sku | None = Field(None, description="left out: the same SKU as the unit")
    customer: CustomerIn
    payment_method: PaymentMethod | None = Field(
        None, description="required in advance mode: the card the deposit is held on"
    )


class CoreReceivedBody(Strict):
    note: Text = ""


class ReplacementCancelBody(Strict):
    reason: Reason = ""


class HoldOut(BaseModel):
    amount: MoneyIO
    status: str | None = Field(None, description="`held`, `released` or `captured`")
    renewals: int


class ReplacementPublic(BaseModel):
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    tracking_token: str | None = Field(None, description="shown to the retailer that owns it")
    mode: str
    reason: str | None
    unit: dict[str, str]
    replacement_sku: str
    core_charged: bool
    hold: HoldOut | None
    customer: dict[str, Any] | None
    payment_action: PaymentActionOut | None = Field(
        None, description="a payment the customer must confirm; shown to the retailer only"
    )
    carrier_error: CarrierErrorOut | None = Field(
        None, description="a booking the carrier refused, to fix and retry; retailer only"
    )
    timeline: list[TimelineEntryOut]
    documents: list[DocumentOut]
    shipments: list[ShipmentOut]
    rma_id: str | None = None
    repair_id: str | None = None
    # The customer's rating once the case has ended (its owner's view only).
    feedback: FeedbackOut | None = None
