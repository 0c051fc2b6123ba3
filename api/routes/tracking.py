"""Customer tracking by token (JSON): no key, and no personal data but the first name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.case_views import documents_out, shipments_out
from api.deps import SessionDep, SettingsDep
from api.errors import not_found
from api.schemas.common import DocumentOut, ShipmentOut
from db import models
from db.queries import CaseBundle, load_case_bundle

router = APIRouter(prefix="/v1/track", tags=["tracking"])

# Timeline details safe to show whoever holds the link (no names, notes or addresses).
_PUBLIC_DETAIL = frozenset(
    {
        "tracking_number",
        "ship_by",
        "reason",
        "grade",
        "amount",
        "currency",
        "location",
        "occurred_at",
        "resolution",
        "coverage",
    }
)


class TrackingStep(BaseModel):
    at: str
    status: str
    event: str
    actor: str
    detail: dict[str, Any]


class CustomerAction(BaseModel):
    action: str
    label: str
    deadline: str | None = None
    document_id: str | None = None


class Tracking(BaseModel):
    case_type: str
    id: str
    status: str
    outcome: str | None
    customer_first_name: str
    timeline: list[TrackingStep]
    documents: list[DocumentOut]
    shipments: list[ShipmentOut]
    actions: list[CustomerAction]


@router.get("/{token}", response_model=Tracking)
async def track(token: str, session: SessionDep, settings: SettingsDep) -> Tracking:
    case = await session.scalar(select(models.Case).where(models.Case.tracking_token == token))
    if case is None:
        raise not_found("case")
    bundle = await load_case_bundle(session, case)
    return Tracking(
        case_type=case.case_type,
        id=case.id,
        status=case.status,
        outcome=case.outcome,
        customer_first_name=str(case.data.get("customer_first_name", "")),
        timeline=[
            TrackingStep(
                at=e.at.isoformat(),
                status=e.status,
                event=e.event,
                actor=e.actor.split(":", 1)[0],
                detail={k: v for k, v in e.detail.items() if k in _PUBLIC_DETAIL},
            )
            for e in bundle.timeline
        ],
        documents=documents_out(bundle, settings.public_base_url, token),
        shipments=shipments_out(bundle),
        actions=_actions(bundle),
    )


def _actions(bundle: CaseBundle) -> list[CustomerAction]:
    case = bundle.case
    if case.case_type == "rma" and case.status == "awaiting_return":
        label = next((d for d in bundle.documents if d.kind == "return_label"), None)
        ship_by = next(
            (
                e.detail.get("ship_by")
                for e in reversed(bundle.timeline)
                if e.event == "label_created"
            ),
            None,
        )
        if label is not None:
            return [
                CustomerAction(
                    action="ship_parcel",
                    label="Print the label and ship",
                    deadline=ship_by,
                    document_id=label.id,
                )
            ]
    return []
