"""Schemas of orders (what the retailer's shop sold) and products' troubleshooting steps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.common import (
    NO_CONTROL,
    NO_CONTROL_BUT_NEWLINE,
    CustomerIn,
    Moment,
    Serial,
    Sku,
    Strict,
    column_length,
)
from api.schemas.rma import ORDER_REF_MAX
from db import models
from domain.portal import MAX_TROUBLESHOOTING_STEPS

OrderRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=ORDER_REF_MAX),
    NO_CONTROL,
]


class OrderLineIn(Strict):
    sku: Sku
    serial: Serial | None = Field(None, description="the unit's serial, when the shop knows it")
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1


class OrderCreate(Strict):
    order_ref: OrderRef
    placed_at: Moment
    customer: CustomerIn
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=200)]


class OrderLineOut(BaseModel):
    sku: str
    serial: str | None
    quantity: int


class OrderPublic(BaseModel):
    id: str
    order_ref: str
    placed_at: datetime
    customer: dict[str, Any]
    lines: list[OrderLineOut]
    created_at: datetime
    updated_at: datetime


class TroubleshootingStepIO(Strict):
    title: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=1,
            max_length=column_length(models.TroubleshootingStep.title),
        ),
        NO_CONTROL,
    ]
    body: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=1,
            max_length=column_length(models.TroubleshootingStep.body),
        ),
        NO_CONTROL_BUT_NEWLINE,
    ]


class Troubleshooting(Strict):
    """A product's troubleshooting steps, in the order the customer tries them; an empty
    list removes them."""

    steps: Annotated[list[TroubleshootingStepIO], Field(max_length=MAX_TROUBLESHOOTING_STEPS)]
