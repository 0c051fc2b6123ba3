"""Customer tracking by token (JSON): no key, and no personal data but the first name.

The lookups and the customer's two commands are public functions here, so the HTML page
(`tracking_page.py`) reads and acts exactly as this JSON API does."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.case_views import documents_out, shipments_out
from api.commands import answer_once, command_key, send_update
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, invalid_transition, not_found
from api.idempotency import CommandKey, IdempotencyKey
from api.schemas.common import DocumentOut, MoneyIO, ShipmentOut
from api.schemas.relocation import RescheduleBody
from api.schemas.repair import QuoteDecisionBody
from db import models
from db.queries import CaseBundle, load_case_bundle
from db.types import utcnow
from domain.contracts.facts import RelocationFacts, RepairFacts, first_name_of
from domain.relocation import (
    RESCHEDULE_UPDATE,
    SCHEDULED,
    RelocationStatus,
    RelocationView,
    RescheduleRequest,
    Stage,
    allowed_actions,
)
from domain.repair import QUOTE_UPDATE, QuoteDecision, RepairStatus, RepairView, allowed_next
from domain.rma import Actor
from settings import Settings

# Answers here carry the token's privacy headers from `api.token_urls.TokenUrlHeaders`.
router = APIRouter(prefix="/v1/track", tags=["tracking"])

# Timeline details safe to show whoever holds the link (no names, notes or addresses).
PUBLIC_DETAIL = frozenset(
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
        "expires_at",
        "repair_id",
        "repair_status",
        "fault_code",
        "findings",
        "parts",
        "stage",
        "starts_at",
        "preferred_after",
        "reschedules",
        "checklist",
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
    case_id: str | None = Field(None, description="the case it acts on, when a linked one")
    amount: MoneyIO | None = None


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
    case = await case_by_token(session, token)
    bundle = await load_case_bundle(session, case)
    return Tracking(
        case_type=case.case_type,
        id=case.id,
        status=case.status,
        outcome=case.outcome,
        customer_first_name=first_name_of(case.data),
        timeline=[
            TrackingStep(
                at=e.at.isoformat(),
                status=e.status,
                event=e.event,
                actor=e.actor.split(":", 1)[0],
                detail=public_detail(e.detail),
            )
            for e in bundle.timeline
        ],
        documents=documents_out(bundle, settings.public_base_url, token),
        shipments=shipments_out(bundle),
        actions=await customer_actions(session, bundle),
    )


@router.post("/{token}/quote", response_model=Tracking)
async def decide_quote(
    token: str,
    body: QuoteDecisionBody,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> Tracking:
    """Approve or decline the repair quote waiting for the customer. An RMA's token reaches
    the repair the RMA started, so the customer needs only the one link."""
    case = await case_by_token(session, token)
    command = command_key(idempotency_key, None, case, QUOTE_UPDATE, body)

    async def run() -> Tracking:
        await decide_quote_for(session, settings, client, case, body.approve, command)
        session.expire_all()
        return await track(token, session, settings)

    return await answer_once(session, command, Tracking, run)


@router.post("/{token}/reschedule", response_model=Tracking)
async def reschedule(
    token: str,
    body: RescheduleBody,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> Tracking:
    """Ask for another appointment for a relocation stage, at most `max_reschedules` times
    (then 409 `reschedule_limit_reached`); the provider books the new one."""
    case = await case_by_token(session, token)
    command = command_key(idempotency_key, None, case, RESCHEDULE_UPDATE, body)

    async def run() -> Tracking:
        await reschedule_for(settings, client, case, body.stage, body.preferred_after, command)
        session.expire_all()
        return await track(token, session, settings)

    return await answer_once(session, command, Tracking, run)


def public_detail(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if k in PUBLIC_DETAIL}


async def decide_quote_for(
    session: AsyncSession,
    settings: Settings,
    client: Client,
    case: models.Case,
    approve: bool,
    key: CommandKey | None = None,
) -> None:
    """Send the customer's answer to the quote of `case`'s repair (itself, or the one its
    RMA started). Refusals raise `Problem` or `WorkflowUpdateFailedError` (409). A `key`
    makes a resent answer attach to the first one."""
    repair = await repair_of(session, case)
    if repair is None:
        raise invalid_transition("no repair quote belongs to this case", case.status, [])
    current = RepairStatus(repair.status)
    await send_update(
        client,
        settings,
        workflow_id=repair.workflow_id,
        update=QUOTE_UPDATE,
        argument=QuoteDecision(actor=Actor("customer"), approve=approve),
        result_type=RepairView,
        pending_detail="the answer was handed to the repair, which has not confirmed it yet",
        ended=lambda: invalid_transition(
            f"no quote waits: the repair is {current.value}",
            current.value,
            list(allowed_next(current)),
        ),
        key=key,
    )


async def reschedule_for(
    settings: Settings,
    client: Client,
    case: models.Case,
    stage: Stage,
    preferred_after: datetime | None,
    key: CommandKey | None = None,
) -> None:
    """Ask the relocation for another appointment; refusals raise as `decide_quote_for`."""
    if case.case_type != "relocation":
        raise invalid_transition("only relocations have appointments", case.status, [])
    if preferred_after is not None and preferred_after <= utcnow():
        raise Problem(
            422, "preferred_date_in_past", "a preferred date must be in the future, if given"
        )
    current = RelocationStatus(case.status)
    await send_update(
        client,
        settings,
        workflow_id=case.workflow_id,
        update=RESCHEDULE_UPDATE,
        argument=RescheduleRequest(stage=stage, preferred_after=preferred_after),
        result_type=RelocationView,
        pending_detail="the request was handed to the relocation, which has not confirmed it yet",
        ended=lambda: invalid_transition(
            f"the relocation is {current.value}", current.value, list(allowed_actions(current))
        ),
        key=key,
    )


async def case_by_token(session: AsyncSession, token: str) -> models.Case:
    case = await session.scalar(select(models.Case).where(models.Case.tracking_token == token))
    if case is None:
        raise not_found("case")
    return case


async def repair_of(session: AsyncSession, case: models.Case) -> models.Case | None:
    if case.case_type == "repair":
        return case
    repair_id = case.links.get("repair_id")
    return await session.get(models.Case, repair_id) if repair_id else None


async def customer_actions(session: AsyncSession, bundle: CaseBundle) -> list[CustomerAction]:
    case = bundle.case
    if case.case_type == "relocation":
        return _relocation_actions(case)
    repair = await repair_of(session, case)
    if repair is not None and repair.status == RepairStatus.AWAITING_APPROVAL.value:
        quote = RepairFacts.from_data(repair.data).quote
        amount = MoneyIO.of(quote.total if quote else Decimal("0"), repair.currency)
        return [
            CustomerAction(
                action=action,
                label=label,
                deadline=quote.expires_at.isoformat() if quote else None,
                case_id=repair.id,
                amount=amount,
            )
            for action, label in (
                ("approve_quote", "Approve the repair quote"),
                ("decline_quote", "Decline and have the unit sent back unrepaired"),
            )
        ]
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


def _relocation_actions(case: models.Case) -> list[CustomerAction]:
    facts = RelocationFacts.from_data(case.data)
    appointment = facts.appointment
    if appointment is None or case.status not in {s.value for s in SCHEDULED.values()}:
        return []
    left = facts.reschedules_left
    if left <= 0:
        return []
    stage = appointment.stage.value
    return [
        CustomerAction(
            action=f"reschedule_{stage}",
            label=f"Ask for another {stage} appointment ({left} change(s) left)",
            deadline=appointment.starts_at.isoformat(),
            case_id=case.id,
        )
    ]
