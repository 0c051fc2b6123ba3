"""Read-model queries the API and activities share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models


@dataclass
class CaseBundle:
    case: models.Case
    customer: models.CustomerRecord | None
    items: list[models.CaseItem]
    timeline: list[models.TimelineEvent]
    documents: list[models.Document]
    shipments: list[models.Shipment]


async def load_case_bundle(session: AsyncSession, case: models.Case) -> CaseBundle:
    customer = (
        await session.get(models.CustomerRecord, case.customer_id) if case.customer_id else None
    )
    items = (
        await session.scalars(
            select(models.CaseItem)
            .where(models.CaseItem.case_id == case.id)
            .order_by(models.CaseItem.id)
        )
    ).all()
    timeline = (
        await session.scalars(
            select(models.TimelineEvent)
            .where(models.TimelineEvent.case_id == case.id)
            .order_by(models.TimelineEvent.seq)
        )
    ).all()
    documents = (
        await session.scalars(
            select(models.Document)
            .where(models.Document.case_id == case.id)
            .order_by(models.Document.created_at, models.Document.id)
        )
    ).all()
    shipments = (
        await session.scalars(
            select(models.Shipment)
            .where(models.Shipment.case_id == case.id)
            .order_by(models.Shipment.created_at, models.Shipment.id)
        )
    ).all()
    return CaseBundle(case, customer, list(items), list(timeline), list(documents), list(shipments))


async def policy_document(session: AsyncSession, org_id: str) -> dict[str, Any]:
    row = await session.get(models.RetailerPolicy, org_id)
    return dict(row.document) if row else {}
