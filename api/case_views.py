"""Case representations built from the read model (never from a workflow query)."""

from __future__ import annotations

from typing import Any

from api.schemas.common import DocumentOut, MoneyIO, ShipmentOut, TimelineEntryOut
from api.schemas.rma import RmaItemOut, RmaPublic
from db import models
from db.queries import CaseBundle


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


def _customer(record: models.CustomerRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "name": record.name,
        "email": record.email,
        "phone": record.phone,
        "address": record.address,
    }


def rma_public(bundle: CaseBundle, base_url: str) -> RmaPublic:
    case = bundle.case
    return RmaPublic(
        id=case.id,
        status=case.status,
        created_at=case.created_at,
        updated_at=case.updated_at,
        tracking_token=case.tracking_token,
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
        customer=_customer(bundle.customer),
        timeline=timeline_out(bundle),
        documents=documents_out(bundle, base_url),
        shipments=shipments_out(bundle),
        repair_id=case.links.get("repair_id"),
        replacement_id=case.links.get("replacement_id"),
        service_plan_id=case.links.get("service_plan_id"),
    )
