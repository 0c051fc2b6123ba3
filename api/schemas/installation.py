"""Schemas of installations (api.md "Installations"): the visit and its checklist are a
relocation's (`api.schemas.relocation`), with one visit and no stage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import (
    AddressIn,
    CustomerIn,
    DocumentOut,
    Moment,
    NonEmpty,
    OrgId,
    Reason,
    ShipmentOut,
    Strict,
    TimelineEntryOut,
)
from api.schemas.relocation import AssetIn, Checklist, ChecklistItemIn
from api.schemas.repair import Verification
from domain.installation import VisitOutcome
from domain.relocation import Stage


class InstallationCreate(Strict):
    asset: AssetIn
    provider_org_id: OrgId
    site: AddressIn
    customer: CustomerIn
    training: bool = Field(False, description="a training session for the customer is asked for")


class VisitBody(Strict):
    starts_at: Moment
    technician: NonEmpty


class VisitReportBody(Strict):
    status: VisitOutcome
    checklist: Checklist = []


class InstallationCommissioningBody(Strict):
    checklist: Annotated[list[ChecklistItemIn], Field(min_length=1, max_length=200)]
    training_given: bool | None = Field(
        None, description="whether the training asked for was given; required when it was asked"
    )


class InstallationCancelBody(Strict):
    reason: Reason = ""


class TrackRescheduleBody(Strict):
    """The customer's request for another visit date: a relocation names the stage it
    moves; an installation has one visit (`installation`, or leave it out)."""

    stage: Stage | Literal["installation"] | None = None
    preferred_after: Moment | None = None


class InstallationPublic(BaseModel):
    id: str
    status: str
    reason: str | None = Field(
        None, description="`duplicate_open_case` when another open case held the unit"
    )
    created_at: datetime
    updated_at: datetime
    tracking_token: str | None = Field(None, description="shown to the retailer that owns it")
    asset: dict[str, Any]
    asset_id: str | None = Field(None, description="the asset at the site, once commissioned")
    provider_org_id: str
    site: dict[str, Any]
    training: bool
    training_given: bool | None
    appointment: dict[str, Any] | None
    reschedules_used: int
    max_reschedules: int
    checklists: dict[str, Any]
    customer: dict[str, Any] | None
    timeline: list[TimelineEntryOut]
    documents: list[DocumentOut]
    shipments: list[ShipmentOut]


class TrainingOut(BaseModel):
    requested: bool
    given: bool | None


class CertificateVerification(Verification):
    """A certificate as `/v1/verify/{code}` answers it: an Installation Certificate also
    says whether the training asked for was given."""

    training: TrainingOut | None = Field(
        None, description="installation certificates: the training asked for, and if given"
    )
