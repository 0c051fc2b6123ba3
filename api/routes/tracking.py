"""Customer tracking by token (JSON): no key, and no personal data but the first name.

The lookups and the customer's two commands are public functions here, so the HTML page
(`tracking_page.py`) reads and acts exactly as this JSON API does. The commands go the way
every case command goes (`CaseCommands.ask`, the repair's and the relocation's own), opened
by the token (`TokenRef`) instead of a key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.case_access import TokenRef
from api.case_views import documents_out, shipments_out
from api.commands import Commands, CommandsDep
from api.deps import AsyncSession, SessionDep, SettingsDep
from api.errors import Problem, invalid_transition
from api.routes.installations import INSTALLATION_COMMANDS
from api.routes.relocations import RELOCATION_COMMANDS
from api.routes.repairs import REPAIR_COMMANDS
from api.schemas.common import DocumentOut, MoneyIO, ShipmentOut
from api.schemas.installation import TrackRescheduleBody
from api.schemas.repair import QuoteDecisionBody
from db import models
from db.cases import case_by_id, forget_read_cases
from db.queries import CaseBundle, load_case_bundle
from db.types import utcnow
from domain.common import Actor
from domain.contracts.facts import (
    InstallationFacts,
    RelocationFacts,
    RepairFacts,
    first_name_of,
    payment_action_of,
)
from domain.feedback import case_ended
from domain.installation import (
    INSTALLATION_RESCHEDULE_UPDATE,
    VISIT,
    InstallationReschedule,
    InstallationStatus,
)
from domain.relocation import RESCHEDULE_UPDATE, SCHEDULED, RescheduleRequest, Stage
from domain.repair import QUOTE_UPDATE, QuoteDecision, RepairStatus
from settings import Settings

A = TypeVar("A", bound=BaseModel)

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
    url: str | None = Field(
        None, description="where the customer acts, outside this API (their bank's page)"
    )


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


async def _token_case(token: str, session: SessionDep) -> TokenRef:
    return TokenRef(session, token)


# The case dependency of tracking: the case the token opens, for its customer.
TokenCase = Annotated[TokenRef, Depends(_token_case)]


@router.get("/{token}", response_model=Tracking)
async def track(ref: TokenCase, settings: SettingsDep) -> Tracking:
    return await tracking(ref, settings)


@router.post("/{token}/quote", response_model=Tracking)
async def decide_quote(body: QuoteDecisionBody, ref: TokenCase, commands: CommandsDep) -> Tracking:
    """Approve or decline the repair quote waiting for the customer. An RMA's token reaches
    the repair the RMA started, so the customer needs only the one link."""
    return await send_quote(commands, ref, body.approve, body, Tracking, _afresh(ref, commands))


@router.post("/{token}/reschedule", response_model=Tracking)
async def reschedule(body: TrackRescheduleBody, ref: TokenCase, commands: CommandsDep) -> Tracking:
    """Ask for another date for the booked visit (a relocation's names its `stage`; an
    installation's is `installation`, or left out), at most `max_reschedules` times (then
    409 `reschedule_limit_reached`); the provider books the new one."""
    return await send_reschedule(
        commands, ref, body.stage, body.preferred_after, body, Tracking, _afresh(ref, commands)
    )


async def tracking(ref: TokenRef, settings: Settings) -> Tracking:
    """What the token's holder sees of their case."""
    session = ref.session
    case = (await ref.open()).case
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
        documents=documents_out(bundle, settings.public_base_url, ref.token),
        shipments=shipments_out(bundle),
        actions=await customer_actions(session, bundle),
    )


def _afresh(ref: TokenRef, commands: Commands) -> Callable[[], Awaitable[Tracking]]:
    """The tracking answer once a command is applied: the case and the repair it links to
    read again, as the workflow has just written them."""

    async def answer() -> Tracking:
        forget_read_cases(commands.session)
        return await tracking(TokenRef(commands.session, ref.token), commands.settings)

    return answer


def public_detail(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if k in PUBLIC_DETAIL}


async def send_quote(
    commands: Commands,
    ref: TokenRef,
    approve: bool,
    body: BaseModel | dict[str, Any],
    answer_type: type[A],
    answer: Callable[[], Awaitable[A]],
) -> A:
    """Send the customer's answer to the quote of their case's repair (itself, or the one
    its RMA started), once per Idempotency-Key (`body` is what the key stands for), and
    answer with `answer()`. Refusals raise `Problem` or `WorkflowUpdateFailedError` (409)."""
    session = commands.session

    async def the_repair(case: models.Case) -> models.Case:
        repair = await repair_of(session, case)
        if repair is None:
            raise invalid_transition("no repair quote belongs to this case", case.status, [])
        return repair

    return await REPAIR_COMMANDS.ask(
        commands,
        ref,
        QUOTE_UPDATE,
        QuoteDecision(actor=Actor("customer"), approve=approve),
        answer_type,
        lambda _: answer(),
        body=body,
        to=the_repair,
        pending_detail="the answer was handed to the repair, which has not confirmed it yet",
        ended_detail=lambda status: f"no quote waits: the repair is {status}",
    )


async def send_reschedule(
    commands: Commands,
    ref: TokenRef,
    stage: str | None,
    preferred_after: datetime | None,
    body: BaseModel | dict[str, Any],
    answer_type: type[A],
    answer: Callable[[], Awaitable[A]],
) -> A:
    """Ask the relocation or installation for another appointment; as `send_quote`. A
    relocation's request names the stage it moves; an installation's may (`installation`)."""
    case = (await ref.open()).case
    if case.case_type == "installation":
        return await _reschedule_installation(
            commands, ref, stage, preferred_after, body, answer_type, answer
        )
    if case.case_type != "relocation":
        raise invalid_transition(
            "only relocations and installations have appointments", case.status, []
        )
    if stage is None:
        raise Problem(422, "validation_error", "stage: name the relocation's visit to move")
    if stage not in {s.value for s in Stage}:
        raise invalid_transition(f"a relocation has no {stage} visit", case.status, [])

    async def the_relocation(case: models.Case) -> models.Case:
        _refuse_past(preferred_after)
        return case

    return await RELOCATION_COMMANDS.ask(
        commands,
        ref,
        RESCHEDULE_UPDATE,
        RescheduleRequest(stage=Stage(stage), preferred_after=preferred_after),
        answer_type,
        lambda _: answer(),
        body=body,
        to=the_relocation,
        pending_detail="the request was handed to the relocation, which has not confirmed it yet",
        ended_detail=lambda status: f"the relocation is {status}",
    )


async def _reschedule_installation(
    commands: Commands,
    ref: TokenRef,
    stage: str | None,
    preferred_after: datetime | None,
    body: BaseModel | dict[str, Any],
    answer_type: type[A],
    answer: Callable[[], Awaitable[A]],
) -> A:
    """Ask the installation for another visit date; as `send_reschedule`."""

    async def checked(case: models.Case) -> models.Case:
        if stage not in (None, VISIT):
            raise invalid_transition(f"an installation has no {stage} visit", case.status, [])
        _refuse_past(preferred_after)
        return case

    return await INSTALLATION_COMMANDS.ask(
        commands,
        ref,
        INSTALLATION_RESCHEDULE_UPDATE,
        InstallationReschedule(preferred_after=preferred_after),
        answer_type,
        lambda _: answer(),
        body=body,
        to=checked,
        pending_detail="the request was handed to the installation, which has not confirmed it yet",
        ended_detail=lambda status: f"the installation is {status}",
    )


def _refuse_past(preferred_after: datetime | None) -> None:
    if preferred_after is not None and preferred_after <= utcnow():
        raise Problem(
            422, "preferred_date_in_past", "a preferred date must be in the future, if given"
        )


async def repair_of(session: AsyncSession, case: models.Case) -> models.Case | None:
    if case.case_type == "repair":
        return case
    repair_id = case.links.get("repair_id")
    return await case_by_id(session, repair_id) if repair_id else None


async def customer_actions(session: AsyncSession, bundle: CaseBundle) -> list[CustomerAction]:
    case = bundle.case
    payment = payment_action_of(case.data)
    if payment is not None:
        # The case waits for this before anything else can happen.
        return [
            CustomerAction(
                action="authenticate_payment",
                label="Confirm the payment with your bank",
                deadline=payment.expires_at.isoformat(),
                amount=MoneyIO.of(payment.amount, payment.currency),
                url=payment.url,
            )
        ]
    if case_ended(case.status):
        # Nothing is left to do but tell us how it went, once.
        if bundle.feedback is not None:
            return []
        return [CustomerAction(action="give_feedback", label="Rate how we did, from 1 to 5")]
    if case.case_type == "relocation":
        return _relocation_actions(case)
    if case.case_type == "installation":
        return _installation_actions(case)
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


def _installation_actions(case: models.Case) -> list[CustomerAction]:
    facts = InstallationFacts.from_data(case.data)
    appointment = facts.appointment
    left = facts.reschedules_left
    if appointment is None or case.status != InstallationStatus.SCHEDULED or left <= 0:
        return []
    return [
        CustomerAction(
            action="reschedule_installation",
            label=f"Ask for another installation date ({left} change(s) left)",
            deadline=appointment.starts_at.isoformat(),
            case_id=case.id,
        )
    ]
