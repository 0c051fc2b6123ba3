"""Schemas of the RMA resource."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.common import (
    NO_CONTROL,
    CarrierErrorOut,
    CustomerIn,
    DocumentOut,
    Moment,
    MoneyIO,
    NonEmpty,
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
from domain.rma import Grade, Resolution, ReturnReason, order_payment_method

# The order reference is stored on the case and names the payment a refund goes back to.
ORDER_REF_MAX = min(
    column_length(models.Case.order_ref),
    column_length(models.Payment.payment_method) - len(order_payment_method("")),
)


class RmaItemIn(Strict):
    sku: Sku
    serial: Serial
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    reason: ReturnReason
    notes: Text = ""


class GoodwillOverride(Strict):
    reason: NonEmpty = Field(description="why the retailer accepts it; on the timeline")


class RmaCreate(Strict):
    order_ref: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=ORDER_REF_MAX),
        NO_CONTROL,
    ]
    purchased_at: Moment
    customer: CustomerIn
    items: Annotated[list[RmaItemIn], Field(min_length=1, max_length=100)]
    resolution: Resolution
    payment_reference: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, max_length=column_length(models.Payment.payment_method)
        ),
        NO_CONTROL,
        Field(
            description="the payment gateway's id of the order's payment (Stripe: its "
            "PaymentIntent `pi_...`); a refund goes back to it"
        ),
    ] = ""
    override: GoodwillOverride | None = Field(
        None,
        description="goodwill: the return window and coverage checks are skipped and the "
        "coverage is `goodwill` (a retailer's key or console owner/staff only)",
    )


class RejectBody(Strict):
    reason: Annotated[Reason, Field(min_length=1)] = "rejected_by_retailer"


class CancelBody(Strict):
    reason: Reason = ""


class WaiveFeeBody(Strict):
    reason: NonEmpty = Field(description="why the fee is waived; on the timeline")


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
    tracking_token: str | None = Field(None, description="shown to the retailer that owns it")
    order_ref: str
    resolution: str | None
    reason: str | None
    coverage: str | None
    outcome: str | None
    refund: MoneyIO | None
    items: list[RmaItemOut]
    customer: dict[str, Any] | None
    carrier_error: CarrierErrorOut | None = Field(
        None, description="a booking the carrier refused, to fix and retry; retailer only"
    )
    timeline: list[TimelineEntryOut]
    documents: list[DocumentOut]
    shipments: list[ShipmentOut]
    repair_id: str | None = None
    replacement_id: str | None = None
    service_plan_id: str | None = None
    # The customer's rating once the case has ended (its owner's view only).
    feedback: FeedbackOut | None = None
