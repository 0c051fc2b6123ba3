"""The customer's rating of an ended case: given once with the tracking token (JSON, or the
tracking page's plain form), read by the retailer and by the repair center that worked the
job. Each rating sends a `feedback.received` webhook through the case's delivery queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Query, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from temporalio.service import RPCError

from api import idempotency
from api.auth import OrgKind, Principal
from api.case_access import TokenRef
from api.commands import answer_once, command_key
from api.deps import AsyncSession, PrincipalDep, Resources, ResourcesDep, SessionDep
from api.errors import Problem, not_found
from api.idempotency import IdempotencyKey
from api.pagination import LimitQuery, decode_keys, decode_time, encode_keys
from api.routes import tracking_page
from api.schemas.common import Moment, Page
from api.schemas.feedback import FeedbackIn, FeedbackListItem, FeedbackOut
from db import models
from db.feedback import (
    FeedbackAlreadyGiven,
    FeedbackFilter,
    feedback_page,
    mark_followed_up,
    record_feedback,
)
from db.outbox import PendingDelivery, mark_handed_over
from db.types import utcnow
from domain.delivery import DeliveryQueueStart, QueuedDelivery
from domain.feedback import MAX_RATING, MIN_RATING, case_ended
from temporal_client import enqueue_deliveries

log = structlog.get_logger(__name__)

router = APIRouter(tags=["feedback"])
# The tracking page's form, answered like its other forms (303, or the page with the reason).
page_router = APIRouter(prefix="/track", tags=["tracking page"])

COMMAND = "feedback"
FOLLOW_UP = "feedback_follow_up"


@router.post(
    "/v1/track/{token}/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    summary="Rate an ended case (1-5) with a comment, once",
)
async def give_feedback(
    token: str,
    body: FeedbackIn,
    session: SessionDep,
    res: ResourcesDep,
    idempotency_key: IdempotencyKey = None,
) -> FeedbackOut:
    """201 once the case has ended; 409 `case_not_finished` before, 409
    `feedback_already_given` a second time (the same Idempotency-Key answers the first
    201 instead)."""
    case = (await TokenRef(session, token).open()).case
    key = command_key(idempotency_key, None, case, COMMAND, body)

    async def submit() -> FeedbackOut:
        return await submit_feedback(session, res, case, body)

    return await answer_once(session, key, FeedbackOut, submit)


async def submit_feedback(
    session: AsyncSession, res: Resources, case: models.Case, body: FeedbackIn
) -> FeedbackOut:
    if not case_ended(case.status):
        raise Problem(
            409,
            "case_not_finished",
            "feedback is asked for once the case has ended",
            current_status=case.status,
        )
    try:
        feedback, pending = await record_feedback(session, case, body.rating, body.comment)
    except FeedbackAlreadyGiven:
        raise Problem(409, "feedback_already_given", "this case has its feedback already") from None
    await _hand_over(session, res, pending)
    return _out(feedback)


@router.get("/v1/feedback", response_model=Page[FeedbackListItem])
async def list_feedback(
    principal: PrincipalDep,
    session: SessionDep,
    since: Annotated[Moment | None, Query(alias="from")] = None,
    until: Annotated[Moment | None, Query(alias="to")] = None,
    max_rating: Annotated[int | None, Query(ge=MIN_RATING, le=MAX_RATING)] = None,
    limit: LimitQuery = 50,
    cursor: str | None = None,
) -> Page[FeedbackListItem]:
    """Newest first: a retailer's on its own cases, a repair center's on the jobs it
    worked. `from` is inclusive, `to` exclusive."""
    principal.require(OrgKind.RETAILER, OrgKind.REPAIR_CENTER)
    owner = principal.kind is OrgKind.RETAILER
    where = FeedbackFilter(
        org_id=principal.owner_id if owner else None,
        receiving_org_id=None if owner else principal.owner_id,
        since=since,
        until=until,
        max_rating=max_rating,
    )
    before = None
    if cursor:
        at, feedback_id = decode_keys(cursor, 2)
        before = (decode_time(at), feedback_id)
    rows = await feedback_page(session, where, before, limit + 1)
    next_cursor = (
        encode_keys(rows[limit - 1].created_at.isoformat(), rows[limit - 1].id)
        if len(rows) > limit
        else None
    )
    return Page[FeedbackListItem](items=[_item(r) for r in rows[:limit]], next_cursor=next_cursor)


@router.post(
    "/v1/feedback/{feedback_id}/follow-up",
    response_model=FeedbackListItem,
    summary="Mark a low rating followed up: it no longer waits on staff",
)
async def follow_up(
    feedback_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> FeedbackListItem:
    """The retailer's staff have called the customer back. Idempotent: a second call
    answers the first's `followed_up_at`. 404 for feedback not on the retailer's cases."""
    principal.require(OrgKind.RETAILER)
    return await followed_up(session, principal, feedback_id, idempotency_key)


async def followed_up(
    session: AsyncSession, principal: Principal, feedback_id: str, key: str | None
) -> FeedbackListItem:
    """`POST /v1/feedback/{feedback_id}/follow-up` for `principal` (an API key's, or a
    console user's)."""
    org_id = principal.owner_id
    found = await session.get(models.Feedback, feedback_id)
    if found is None or found.org_id != org_id:
        raise not_found("feedback")
    command = idempotency.command_key(
        key,
        caller=f"{principal.kind.value}:{org_id}",
        org_id=org_id,
        case_id=found.case_id,
        command=FOLLOW_UP,
        body={"feedback_id": feedback_id},
    )

    async def mark() -> FeedbackListItem:
        if not await mark_followed_up(session, org_id, feedback_id):
            raise not_found("feedback")
        marked = await session.get(models.Feedback, feedback_id, populate_existing=True)
        if marked is None:
            raise not_found("feedback")
        return _item(marked)

    return await answer_once(session, command, FeedbackListItem, mark)


@page_router.post("/{token}/feedback", response_class=HTMLResponse)
async def feedback_form(
    token: str,
    session: SessionDep,
    res: ResourcesDep,
    rating: Annotated[str | None, Form()] = None,
    comment: Annotated[str | None, Form()] = None,
    idempotency_key: Annotated[str | None, Form()] = None,
) -> Response:
    ref = TokenRef(session, token)
    case = await ref.find()
    if case is None:
        return tracking_page.not_found_page()
    try:
        body = FeedbackIn(
            rating=int(rating or ""),
            comment=(comment or "").replace("\r\n", "\n"),
        )
    except (ValueError, ValidationError):
        message = "Please choose a rating from 1 to 5; a comment, if any, of up to 2000 characters."
        return await tracking_page.render_case(session, token, case, 422, message)
    key = command_key(idempotency_key or None, None, case, COMMAND, body)

    async def submit() -> FeedbackOut:
        return await submit_feedback(session, res, case, body)

    try:
        await answer_once(session, key, FeedbackOut, submit)
    except Problem as problem:
        return await tracking_page.refused(session, token, problem, "feedback")
    return tracking_page.see_other(token, "#feedback")


async def _hand_over(
    session: AsyncSession, res: Resources, pending: Sequence[PendingDelivery]
) -> None:
    """Give the deliveries to their queues now; if Temporal cannot take them, a worker's
    outbox sweep does (they are committed and left unmarked)."""
    if not pending:
        return
    settings = res.settings
    queues: dict[str, list[PendingDelivery]] = {}
    for delivery in pending:
        queues.setdefault(delivery.queue, []).append(delivery)
    try:
        client = await res.temporal()
        for queue, batch in queues.items():
            await enqueue_deliveries(
                client,
                settings.task_queue,
                queue,
                DeliveryQueueStart(
                    "webhook", settings.delivery_retry_window, settings.delivery_first_retry
                ),
                [QueuedDelivery(d.id, d.seq, d.created_at) for d in batch],
            )
    except (RPCError, Problem) as exc:
        log.warning("feedback webhooks left to the outbox sweep", error=type(exc).__name__)
        return
    await mark_handed_over(session, list(pending), utcnow())
    await session.commit()


def _out(feedback: models.Feedback) -> FeedbackOut:
    return FeedbackOut(
        id=feedback.id,
        rating=feedback.rating,
        comment=feedback.comment,
        needs_follow_up=feedback.needs_follow_up,
        created_at=feedback.created_at,
    )


def _item(feedback: models.Feedback) -> FeedbackListItem:
    return FeedbackListItem(
        id=feedback.id,
        case_id=feedback.case_id,
        case_type=feedback.case_type,
        rating=feedback.rating,
        comment=feedback.comment,
        needs_follow_up=feedback.needs_follow_up,
        followed_up_at=feedback.followed_up_at,
        created_at=feedback.created_at,
    )
