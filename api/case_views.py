"""Case representations built from the read model (never from a workflow query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from api.auth import Principal
from api.schemas.common import (
    CarrierErrorOut,
    DocumentOut,
    MoneyIO,
    PaymentActionOut,
    ShipmentOut,
    TimelineEntryOut,
)
from api.schemas.feedback import FeedbackOut
from api.schemas.relocation import RelocationPublic
from api.schemas.repair import QuoteOut, RepairPublic, RepairUnitOut
from api.schemas.replacement import HoldOut, ReplacementPublic
from api.schemas.rma import RmaItemOut, RmaPublic
from api.schemas.service_plan import PaymentOut, ServicePlanPublic
from db import models
from db.queries import CaseBundle, CustomerRow, DocumentRow
from db.types import utcnow
from domain.contracts.facts import (
    RelocationFacts,
    RepairFacts,
    ReplacementFacts,
    ServicePlanFacts,
    SlaFacts,
    appointment_data,
    carrier_error_of,
    checklists_data,
    claim_data,
    payment_action_of,
    site_data,
)
from domain.feedback import needs_follow_up
from domain.repair import sla_due_at


def document_url(base_url: str, document: DocumentRow, token: str | None = None) -> str:
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


def shipments_out(bundle: CaseBundle, viewer: Viewer | None = None) -> list[ShipmentOut]:
    """The case's parcels; what a label cost only to the retailer that paid for it."""
    owner = viewer is not None and viewer.owner
    return [
        ShipmentOut(
            id=s.id,
            direction=s.direction,
            carrier=s.carrier,
            service=s.service,
            tracking_number=s.tracking_number,
            status=s.status,
            cost=(
                MoneyIO.of(s.cost, s.currency or "USD") if owner and s.cost is not None else None
            ),
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

    def carrier_error(self, case: models.Case) -> CarrierErrorOut | None:
        """A booking the carrier refused: the retailer's to fix (its address data, its
        carrier account), so only the owner sees it."""
        error = carrier_error_of(case.data) if self.owner else None
        if error is None:
            return None
        return CarrierErrorOut(
            code=error.code, message=error.message, direction=error.direction, errors=error.errors
        )

    def payment_action(self, case: models.Case) -> PaymentActionOut | None:
        """The payment waiting for the customer: its link is the customer's to open, so
        only the retailer that owns the case sees it (to tell the customer where it is)."""
        action = payment_action_of(case.data) if self.owner else None
        if action is None:
            return None
        return PaymentActionOut(
            url=action.url,
            since=action.since,
            expires_at=action.expires_at,
            amount=MoneyIO.of(action.amount, action.currency),
            kind=action.kind,
        )

    def feedback(self, bundle: CaseBundle) -> FeedbackOut | None:
        """The customer's rating: the retailer's to act on, so only the owner sees it."""
        row = bundle.feedback if self.owner else None
        if row is None:
            return None
        return FeedbackOut(
            id=row.id,
            rating=row.rating,
            comment=row.comment,
            needs_follow_up=needs_follow_up(row.rating),
            created_at=row.created_at,
        )

    def customer(self, record: CustomerRow | None) -> dict[str, Any] | None:
        if record is None:
            return None
        if not self.owner:
            return {"name": record.name, "address": record.address}
        return {
            "name": record.name,
            "email": record.email,
            "phone": record.phone,
            "address": record.address,
            "locale": record.locale or None,
            "time_zone": record.time_zone or None,
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
        carrier_error=viewer.carrier_error(bundle.case),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle, viewer),
        feedback=viewer.feedback(bundle),
        repair_id=case.links.get("repair_id"),
        replacement_id=case.links.get("replacement_id"),
        service_plan_id=case.links.get("service_plan_id"),
    )


def repair_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> RepairPublic:
    case = bundle.case
    facts = RepairFacts.from_data(case.data)
    quote = facts.quote
    return RepairPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        coverage=case.coverage,
        reason=case.reason,
        unit=RepairUnitOut(**facts.unit.to_data()),
        fault=facts.fault,
        customer=viewer.customer(bundle.customer),
        assigned_center=facts.assigned_center,
        quote=None
        if quote is None
        else QuoteOut(
            parts_total=MoneyIO.of(quote.parts_total, case.currency),
            labor_total=MoneyIO.of(quote.labor_total, case.currency),
            total=MoneyIO.of(quote.total, case.currency),
            expires_at=quote.expires_at,
            outcome=quote.outcome,
        ),
        # In the case's currency, as the quote beside it: a row written before its facts said
        # theirs has two decimals whatever the currency (2468 JPY stored as "2468.00").
        diagnosis=None if facts.diagnosis is None else facts.diagnosis.to_data(case.currency),
        qa_failures=facts.qa_failures,
        sla_due_at=repair_sla_due_at(facts.sla),
        sla_breached=facts.sla.breached,
        carrier_error=viewer.carrier_error(bundle.case),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle, viewer),
        feedback=viewer.feedback(bundle),
        rma_id=case.links.get("rma_id"),
        replacement_id=case.links.get("replacement_id"),
        service_plan_id=case.links.get("service_plan_id"),
    )


def repair_sla_due_at(sla: SlaFacts) -> datetime | None:
    """When the job must be ready to ship: the clock starts at receipt, and an open pause
    (a quote waiting for the customer) pushes the due time on as it lasts."""
    if sla.received_at is None:
        return None
    return sla_due_at(
        sla.received_at,
        timedelta(seconds=sla.turnaround_seconds),
        list(sla.pauses),
        sla.ready_at or utcnow(),
    )


def replacement_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> ReplacementPublic:
    case = bundle.case
    facts = ReplacementFacts.from_data(case.data)
    hold = facts.hold
    unit = bundle.items[0] if bundle.items else None
    return ReplacementPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        mode=facts.mode.value if facts.mode else (case.resolution or ""),
        reason=case.reason,
        unit={"sku": unit.sku, "serial": unit.serial} if unit else {},
        replacement_sku=facts.replacement_sku,
        core_charged=facts.core_charged,
        hold=None
        if hold is None
        else HoldOut(
            amount=MoneyIO.of(hold.amount, case.currency),
            status=hold.status,
            renewals=hold.renewals,
        ),
        customer=viewer.customer(bundle.customer),
        payment_action=viewer.payment_action(case),
        carrier_error=viewer.carrier_error(bundle.case),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle, viewer),
        feedback=viewer.feedback(bundle),
        rma_id=case.links.get("rma_id"),
        repair_id=case.links.get("repair_id"),
    )


def relocation_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> RelocationPublic:
    case = bundle.case
    facts = RelocationFacts.from_data(case.data)
    return RelocationPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        asset_id=facts.asset_id,
        asset=facts.asset.to_data(),
        provider_org_id=facts.provider_org_id,
        from_site=site_data(facts.from_site),
        to_site=site_data(facts.to_site),
        appointment=None if facts.appointment is None else appointment_data(facts.appointment),
        reschedules_used=facts.reschedules_used,
        max_reschedules=facts.max_reschedules,
        checklists=checklists_data(facts.checklists),
        customer=viewer.customer(bundle.customer),
        carrier_error=viewer.carrier_error(bundle.case),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle, viewer),
        feedback=viewer.feedback(bundle),
        service_plan_id=case.links.get("service_plan_id"),
    )


def service_plan_public(bundle: CaseBundle, base_url: str, viewer: Viewer) -> ServicePlanPublic:
    case = bundle.case
    facts = ServicePlanFacts.from_data(case.data)
    unit = bundle.items[0] if bundle.items else None
    return ServicePlanPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=viewer.tracking_token(case),
        plan_code=facts.plan_code,
        plan_name=facts.plan_name,
        unit={"sku": unit.sku, "serial": unit.serial} if unit else {},
        term_number=facts.term_number,
        term_ends_at=facts.term_ends_at,
        next_charge_at=facts.next_charge_at,
        claims_used=facts.claims_used,
        claims=[claim_data(c) for c in facts.claims],
        payments=[
            PaymentOut(
                id=p.id,
                kind=p.kind,
                amount=MoneyIO.of(Decimal(p.amount), p.currency),
                status=p.status,
                at=p.updated_at,
            )
            for p in bundle.payments
        ],
        customer=viewer.customer(bundle.customer),
        payment_action=viewer.payment_action(case),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        repair_id=case.links.get("repair_id"),
        replacement_id=case.links.get("replacement_id"),
        feedback=viewer.feedback(bundle),
    )
