"""Requests and results of the read-model activities (activities/store.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.common import Address, Customer
from domain.service_plan import PlanTerms


@dataclass
class TimelineEntry:
    seq: int
    at: datetime
    status: str
    event: str
    actor: str
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class CaseItemRecord:
    sku: str
    serial: str
    quantity: int
    unit_price: Decimal
    reason: str = ""
    notes: str = ""


@dataclass
class NewCase:
    case_id: str
    org_id: str
    case_type: str
    workflow_id: str
    status: str
    tracking_token: str
    customer: Customer
    created_at: datetime
    currency: str
    order_ref: str = ""
    resolution: str | None = None
    coverage: str | None = None
    reason: str | None = None
    items: list[CaseItemRecord] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    receiving_org_id: str | None = None
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class IfHeld:
    """What a claiming case records instead when another open case holds one of its units:
    its status, reason and coverage, and its last timeline entry (same seq), the refusal."""

    status: str
    reason: str | None
    coverage: str | None
    last_entry: TimelineEntry

    def instead_of(self, new: NewCase) -> NewCase:
        return dataclasses.replace(
            new,
            status=self.status,
            reason=self.reason,
            coverage=self.coverage,
            timeline=[*new.timeline[:-1], self.last_entry],
        )


@dataclass
class ClaimingCase:
    """A new case that claims its units (one open case per serial) in the transaction that
    stores it: as `new` when the claim holds, as `if_held` says when it does not."""

    new: NewCase
    serials: list[str]
    if_held: IfHeld


@dataclass
class CaseProjection:
    case_id: str
    status: str
    updated_at: datetime
    timeline: list[TimelineEntry] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    # Merged into the case's `data` (lifecycle-specific facts: quote, SLA clock, diagnosis).
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class MoveAsset:
    asset_id: str
    site: Address
    case_id: str


@dataclass
class InstallAsset:
    """An installed unit stands at `site` from now on: its asset, made the first time the
    organisation's SKU and serial are seen."""

    org_id: str
    sku: str
    serial: str
    site: Address
    case_id: str


@dataclass
class InstalledAsset:
    asset_id: str


@dataclass
class CustomerChange:
    case_id: str
    customer: Customer
    # A new tracking token for the case, written in the same transaction (empty: keep it).
    tracking_token: str = ""


@dataclass
class PlanTermsRequest:
    org_id: str
    code: str


@dataclass
class PlanTermsAnswer:
    terms: PlanTerms | None = None


@dataclass
class PlanLookup:
    org_id: str
    serial: str


@dataclass
class PlanFound:
    plan_id: str | None = None
    workflow_id: str | None = None


@dataclass
class SerialClaim:
    org_id: str
    case_id: str
    serials: list[str]


@dataclass
class SerialClaimResult:
    # The open case already holding one of the serials; None when all are now this case's.
    held_by: str | None = None


@dataclass
class SerialRelease:
    case_id: str
