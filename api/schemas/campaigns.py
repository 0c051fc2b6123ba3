"""Campaigns as the retailer creates and follows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, model_validator

from api.schemas.common import (
    NO_CONTROL,
    NO_CONTROL_BUT_NEWLINE,
    Moment,
    Sku,
    Strict,
    column_bound,
)
from db import models
from domain.campaign import CampaignOffer


class CampaignCreate(Strict):
    name: Annotated[str, column_bound(models.Campaign.name, min_length=1, strip=True), NO_CONTROL]
    sku: Sku
    serial_prefix: (
        Annotated[
            str, column_bound(models.Campaign.serial_prefix, min_length=1, strip=True), NO_CONTROL
        ]
        | None
    ) = None
    purchased_from: Moment | None = None
    purchased_to: Moment | None = None
    subject: Annotated[
        str, column_bound(models.Campaign.subject, min_length=1, strip=True), NO_CONTROL
    ]
    message: Annotated[
        str,
        column_bound(models.Campaign.message, min_length=1, strip=True),
        NO_CONTROL_BUT_NEWLINE,
    ]
    offer: CampaignOffer = CampaignOffer.NONE

    @model_validator(mode="after")
    def _window(self) -> CampaignCreate:
        if self.purchased_from and self.purchased_to and self.purchased_from > self.purchased_to:
            raise ValueError("purchased_from must not be after purchased_to")
        return self


class CampaignCreated(BaseModel):
    id: str
    status: str
    recipients: int


class CampaignPublic(CampaignCreated):
    name: str
    sku: str
    offer: str
    sent: int
    responses: int
    created_at: datetime
    finished_at: datetime | None = None
