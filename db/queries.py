"""Read-model queries the API and activities share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from domain.service_plan import BillingPeriod, ClaimType, PlanTerms

_DURATION = TypeAdapter(timedelta)


@dataclass
class CaseBundle:
    case: models.Case
    customer: models.CustomerRecord | None
    items: list[models.CaseItem]
    timeline: list[models.TimelineEvent]
    documents: list[models.Document]
    shipments: list[models.Shipment]


async def lock_organisation(session: AsyncSession, org_id: str) -> None:
    """Hold the organisation's row until the caller commits, so a check of what the
    organisation has (a count against its quota) and the insert that follows are one step
    for it. An UPDATE, not SELECT … FOR UPDATE: it locks the row on PostgreSQL and opens the
    write transaction on SQLite, where FOR UPDATE is ignored."""
    table = models.Organisation
    await session.execute(update(table).where(table.id == org_id).values(name=table.name))


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


async def plan_terms(session: AsyncSession, org_id: str, code: str) -> PlanTerms | None:
    """The catalog's current terms for a plan code (what a renewal is sold at), or None."""
    entry = await session.scalar(
        select(models.PlanCatalogEntry).where(
            models.PlanCatalogEntry.org_id == org_id, models.PlanCatalogEntry.code == code
        )
    )
    return None if entry is None else terms_from_document(entry.code, entry.terms)


def terms_from_document(code: str, document: dict[str, Any]) -> PlanTerms:
    """The stored catalog document (ISO durations, money as a string or `{amount}`) as terms."""

    def money(value: Any) -> Decimal:
        return Decimal(str(value["amount"] if isinstance(value, dict) else value))

    return PlanTerms(
        code=code,
        name=str(document["name"]),
        term_months=int(document["term_months"]),
        billing_period=BillingPeriod(document["billing_period"]),
        price=money(document["price"]),
        claim_limit=int(document["claim_limit"]),
        deductibles={ClaimType(k): money(v) for k, v in document.get("deductibles", {}).items()},
        waiting_period=_DURATION.validate_python(document.get("waiting_period", "PT0S")),
        incidents=frozenset(document.get("incidents", [])),
        cancel_full_refund_within=_DURATION.validate_python(
            document.get("cancel_full_refund_within", "P30D")
        ),
        renewal_notice=_DURATION.validate_python(document.get("renewal_notice", "P30D")),
        auto_renew=bool(document.get("auto_renew", True)),
    )
