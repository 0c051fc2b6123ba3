"""Schemas of sold service plans, their claims and payments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.common import (
    NO_CONTROL,
    CustomerIn,
    DocumentOut,
    Moment,
    MoneyIO,
    PaymentActionOut,
    PaymentMethod,
    Reason,
    Serial,
    Sku,
    Strict,
    Text,
    TimelineEntryOut,
    column_length,
)
from api.schemas.feedback import FeedbackOut
from db import models
from domain.service_plan import ClaimRefusal, ClaimType


class PlanUnitIn(Strict):
    sku: Sku
    serial: Serial
    purchased_at: Moment


class EnrollBody(Strict):
    plan_code: Annotated[
        str,
        StringConstraints(min_length=1, max_length=column_length(models.PlanCatalogEntry.code)),
        NO_CONTROL,
    ]
    unit: PlanUnitIn
    customer: CustomerIn
    payment_method: PaymentMethod


class ClaimBody(Strict):
    type: ClaimType
    incident: Annotated[str, StringConstraints(min_length=1, max_length=64), NO_CONTROL]
    description: Text = ""


class ClaimOut(BaseModel):
    decision: str = Field(description="`approved` or `refused`")
    reason: ClaimRefusal | None = None
    repair_id: str | None = None
    replacement_id: str | None = None


class PaymentMethodBody(Strict):
    payment_method: PaymentMethod


class PlanCancelBody(Strict):
    reason: Reason = ""


class CancelOut(BaseModel):
    refund: MoneyIO
    status: str


class TransferBody(Strict):
    customer: CustomerIn


class PaymentOut(BaseModel):
    id: str
    kind: str
    amount: MoneyIO
    status: str
    at: datetime


class ServicePlanPublic(BaseModel):
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    tracking_token: str | None = Field(None, description="shown to the retailer that owns it")
    plan_code: str
    plan_name: str
    unit: dict[str, str]
    term_number: int
    term_ends_at: datetime | None
    next_charge_at: datetime | None
    claims_used: int
    claims: list[dict[str, Any]]
    payments: list[PaymentOut]
    customer: dict[str, Any] | None
    payment_action: PaymentActionOut | None = Field(
        None, description="a payment the customer must confirm; shown to the retailer only"
    )
    timeline: list[TimelineEntryOut]
    documents: list[DocumentOut]
    repair_id: str | None = None
    replacement_id: str | None = None
    # The customer's rating once the case has ended (its owner's view only).
    feedback: FeedbackOut | None = None
