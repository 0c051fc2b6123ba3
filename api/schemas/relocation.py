"""Schemas of assets and relocations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import (
    AddressIn,
    CarrierErrorOut,
    CustomerIn,
    DocumentOut,
    Moment,
    NonEmpty,
    OrgId,
    Reason,
    Serial,
    ShipmentOut,
    Sku,
    Strict,
    Text,
    TimelineEntryOut,
)
from api.schemas.feedback import FeedbackOut
from domain.appointments import ChecklistItem
from domain.relocation import Stage, StageOutcome


class AssetIn(Strict):
    sku: Sku
    serial: Serial


class RelocationCreate(Strict):
    asset: AssetIn
    provider_org_id: OrgId
    from_site: AddressIn
    to_site: AddressIn
    customer: CustomerIn


class ChecklistItemIn(Strict):
    item: NonEmpty
    passed: bool
    note: Text = ""


Checklist = Annotated[list[ChecklistItemIn], Field(max_length=200)]


def checklist_of(items: list[ChecklistItemIn]) -> list[ChecklistItem]:
    """A checklist as the workflows take it (a relocation's stages, an installation's)."""
    return [ChecklistItem(i.item, i.passed, i.note) for i in items]


class AppointmentBody(Strict):
    stage: Stage
    starts_at: Moment
    technician: NonEmpty


class StageBody(Strict):
    status: StageOutcome
    checklist: Checklist = []


class CommissioningBody(Strict):
    checklist: Annotated[list[ChecklistItemIn], Field(min_length=1, max_length=200)]


class RelocationCancelBody(Strict):
    reason: Reason = ""


class AssetOut(BaseModel):
    id: str
    sku: str
    serial: str
    site: dict[str, Any]
    updated_at: datetime


class RelocationPublic(BaseModel):
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    tracking_token: str | None = Field(None, description="shown to the retailer that owns it")
    asset_id: str
    asset: dict[str, Any]
    provider_org_id: str
    from_site: dict[str, Any]
    to_site: dict[str, Any]
    appointment: dict[str, Any] | None
    reschedules_used: int
    max_reschedules: int
    checklists: dict[str, Any]
    customer: dict[str, Any] | None
    carrier_error: CarrierErrorOut | None = Field(
        None, description="a booking the carrier refused, to fix and retry; retailer only"
    )
    timeline: list[TimelineEntryOut]
    documents: list[DocumentOut]
    shipments: list[ShipmentOut]
    service_plan_id: str | None = None
    # The customer's rating once the case has ended (its owner's view only).
    feedback: FeedbackOut | None = None
