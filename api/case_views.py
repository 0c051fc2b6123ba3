"""Case representations built from the read model (never from a workflow query)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from api.auth import Principal
from api.schemas.common import DocumentOut, MoneyIO, ShipmentOut, TimelineEntryOut
from api.schemas.relocation import RelocationPublic
from api.schemas.repair import QuoteOut, RepairPublic, RepairUnitOut
from api.schemas.replacement import HoldOut, ReplacementPublic
from api.schemas.rma import RmaItemOut, RmaPublic
from api.schemas.service_plan import PaymentOut, ServicePlanPublic
from db import models
from db.queries import CaseBundle
from db.types import utcnow
from domain.repair import sla_due_at


def document_url(base_url: str, document: models.Document, token: str | None = None) -> str:
    url = f"{base_url}/v1/documents/{document.id}"
    return f"{url}?token={token}" if token else url


def documents_out(bundle: CaseBundle, base_url: str, token: str | None = None) -> list[DocumentOut]:
    return [
        DocumentOut(
            id=d.id,
            kind=d.kind,
            url=document_url(base_url, d, token),
            sha256=d.sha256,
            verification_code=d.verification_code,
        )
        for d in bundle.documents
    ]


def shipments_out(bundle: CaseBundle) -> list[ShipmentOut]:
    return [
        ShipmentOut(
            id=s.id,
            direction=s.direction,
            carrier=s.carrier,
            tracking_number=s.tracking_number,
            status=s.status,
        )
        for s in bundle.shipments
    ]


def timeline_out(bundle: CaseBundle) -> list[TimelineEntryOut]:
    return [
        TimelineEntryOut(at=e.at, status=e.status, event=e.event, actor=e.actor, detail=e.detail)
        for e in bundle.timeline
    ]


@dataclass(frozen=True)
class Viewer:
    """Who looks at a case, which decides what of it they see (api.md "A case is shown per
    viewer"). Its owner, the retailer, sees everything. Anyone else let in (the repair center
    or provider working it) sees the work but not the tracking token, with which it could act
    as the customer (approve its own quote), nor the customer's email and phone: the customer
    is the name and address it ships to or works at. Who may see a case at all is the routes'
    question; this only shapes what they answer."""

    owner: bool

    @classmethod
    def of(cls, principal: Principal, case: models.Case) -> Viewer:
        # Only a retailer's key carries its org id, and only that org owns its cases: anyone
        # else gets the worker's view, the smaller one, whatever route let them in.
        return cls(owner=principal.org_id is not None and principal.org_id == case.org_id)

    def tracking_token(self, case: models.Case) -> str | None:
        return case.tracking_token if self.owner else None

    def customer(self, record: models.CustomerRecord | None) -> dict[str, Any] | None:
        if record is None:
            return None
        if not self.owner:
            return {"name": record.name, "address": record.address}
        return {
            "name": record.name,
            "email": record.email,
            "phone": record.phone,
            "address": record.address,
        }


def rma_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> RmaPublic:
    case = bundle.case
    return RmaPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        order_ref=case.order_ref,
        resolution=case.resolution,
        reason=case.reason,
        coverage=case.coverage,
        outcome=case.outcome,
        refund=MoneyIO.of(case.refund_amount, case.currency)
        if case.refund_amount is not None
        else None,
        items=[
            RmaItemOut(
                sku=i.sku,
                serial=i.serial,
                quantity=i.quantity,
                reason=i.reason,
                unit_price=MoneyIO.of(i.unit_price, case.currency),
                notes=i.notes,
            )
            for i in bundle.items
        ],
        customer=viewer.customer(bundle.customer),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle),
        repair_id=case.links.get("repair_id"),
        replacement_id=case.links.get("replacement_id"),
        service_plan_id=case.links.get("service_plan_id"),
    )


def repair_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> RepairPublic:
    case = bundle.case
    data = case.data
    quote = data.get("quote")
    return RepairPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        coverage=case.coverage,
        reason=case.reason,
        unit=RepairUnitOut(**data.get("unit", {})),
        fault=str(data.get("fault", "")),
        customer=viewer.customer(bundle.customer),
        assigned_center=data.get("assigned_center"),
        quote=None
        if quote is None
        else QuoteOut(
            parts_total=MoneyIO.of(Decimal(quote["parts_total"]), case.currency),
            labor_total=MoneyIO.of(Decimal(quote["labor_total"]), case.currency),
            total=MoneyIO.of(Decimal(quote["total"]), case.currency),
            expires_at=datetime.fromisoformat(quote["expires_at"]),
            outcome=quote.get("outcome"),
        ),
        diagnosis=data.get("diagnosis"),
        qa_failures=int(data.get("qa_failures", 0)),
        sla_due_at=repair_sla_due_at(data),
        sla_breached=bool(data.get("sla", {}).get("breached", False)),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle),
        rma_id=case.links.get("rma_id"),
        replacement_id=case.links.get("replacement_id"),
        service_plan_id=case.links.get("service_plan_id"),
    )


def repair_sla_due_at(data: dict[str, Any]) -> datetime | None:
    """When the job must be ready to ship: the clock starts at receipt, and an open pause
    (a quote waiting for the customer) pushes the due time on as it lasts."""
    sla = data.get("sla") or {}
    received = sla.get("received_at")
    if not received:
        return None
    pauses = [
        (datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
        for start, end in sla.get("pauses", [])
    ]
    now = utcnow()
    if sla.get("ready_at"):
        now = datetime.fromisoformat(sla["ready_at"])
    return sla_due_at(
        datetime.fromisoformat(received),
        timedelta(seconds=float(sla["turnaround_seconds"])),
        pauses,
        now,
    )


def replacement_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> ReplacementPublic:
    case = bundle.case
    data = case.data
    hold = data.get("hold")
    unit = bundle.items[0] if bundle.items else None
    return ReplacementPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        mode=str(data.get("mode", case.resolution or "")),
        reason=case.reason,
        unit={"sku": unit.sku, "serial": unit.serial} if unit else {},
        replacement_sku=str(data.get("replacement_sku", "")),
        core_charged=bool(data.get("core_charged", False)),
        hold=None
        if hold is None
        else HoldOut(
            amount=MoneyIO.of(Decimal(hold["amount"]), case.currency),
            status=hold.get("status"),
            renewals=int(hold.get("renewals", 0)),
        ),
        customer=viewer.customer(bundle.customer),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle),
        rma_id=case.links.get("rma_id"),
        repair_id=case.links.get("repair_id"),
    )


def relocation_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> RelocationPublic:
    case = bundle.case
    data = case.data
    return RelocationPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        asset_id=str(data.get("asset_id", "")),
        asset=dict(data.get("asset", {})),
        provider_org_id=str(data.get("provider_org_id", "")),
        from_site=dict(data.get("from_site", {})),
        to_site=dict(data.get("to_site", {})),
        appointment=data.get("appointment"),
        reschedules_used=int(data.get("reschedules_used", 0)),
        max_reschedules=int(data.get("max_reschedules", 0)),
        checklists=dict(data.get("checklists", {})),
        customer=viewer.customer(bundle.customer),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle),
        service_plan_id=case.links.get("service_plan_id"),
    )


def service_plan_public(
    bundle: CaseBundle, payments: Sequence[models.Payment], base_url: str, viewer: Viewer
) -> ServicePlanPublic:
    case = bundle.case
    data = case.data
    unit = bundle.items[0] if bundle.items else None

    def when(name: str) -> datetime | None:
        value = data.get(name)
        return datetime.fromisoformat(value) if value else None

    return ServicePlanPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        plan_code=str(data.get("plan_code", "")),
        plan_name=str(data.get("plan_name", "")),
        unit={"sku": unit.sku, "serial": unit.serial} if unit else {},
        term_number=int(data.get("term_number", 1)),
        term_ends_at=when("term_ends_at"),
        next_charge_at=when("next_charge_at"),
        claims_used=int(data.get("claims_used", 0)),
        claims=list(data.get("claims", [])),
        payments=[
            PaymentOut(
                id=p.id,
                kind=p.kind,
                amount=MoneyIO.of(Decimal(p.amount), p.currency),
                status=p.status,
                at=p.updated_at,
            )
            for p in payments
        ],
        customer=viewer.customer(bundle.customer),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        repair_id=case.links.get("repair_id"),
        replacement_id=case.links.get("replacement_id"),
    )
