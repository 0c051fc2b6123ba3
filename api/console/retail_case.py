"""A case's page for its retailer: status, timeline, shipments with their carrier status,
documents, the quote, payments, linked cases, and a form for each command its status
allows. A command is sent by the JSON API's own route function (`retail_commands`); a
refusal re-renders the page with the reason in an alert, with the API's status code."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import OrgKind
from api.case_views import Viewer
from api.commands import Commands
from api.console.csrf import CsrfDep
from api.console.render import render
from api.console.retail_commands import send
from api.console.retail_common import require_retailer, when
from api.console.retail_feedback import DONE as DONE_FOLLOW_UP
from api.console.retail_feedback import follow_up_state
from api.console.retail_forms import idempotency_key, new_nonce, refusal
from api.console.retail_kinds import BY_TYPE, KINDS, LINKS, CaseKind
from api.console.session import ConsoleUser, ConsoleUserDep
from api.console.technician_timeline import actor_words
from api.deps import AsyncSession, ResourcesDep, SessionDep
from api.errors import Problem
from db import models
from db.queries import CaseBundle
from settings import Settings

router = APIRouter()

# What the page says once a command went through (the page is read again after it).
DONE = {
    "approve": "Approved: the return label is on its way to the customer.",
    "reject": "Rejected.",
    "receive": "Received.",
    "inspection": "Inspected: the resolution is under way.",
    "cancel": "Cancelled.",
    "waive_restocking_fee": "The restocking fee is waived.",
    "core_received": "Core received.",
    "claim": "Claim sent.",
    "payment_method": "Payment method changed.",
    "transfer": "Transferred to the new owner.",
    DONE_FOLLOW_UP: "The customer's rating is marked followed up.",
}

ACTION_LABELS = {
    "approve": "Approve",
    "reject": "Reject",
    "receive": "Receive the parcel",
    "inspection": "Record the inspection",
    "cancel": "Cancel",
    "waive_restocking_fee": "Waive the restocking fee",
    "core_received": "Core received",
    "claim": "File a claim",
    "payment_method": "Change the payment method",
    "transfer": "Transfer to a new owner",
}


def document_href(document_id: str) -> str:
    """A document as the console opens it (`technician_documents`: the API's own rule of
    who opens a case's documents, and its answer), with the session standing in for a key."""
    return f"/console/documents/{document_id}"


async def case_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    settings: Settings,
    kind: CaseKind,
    case_id: str,
    *,
    problem: Problem | None = None,
    failed: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    principal = user.principal()
    try:
        session.expire_all()  # a command may just have changed it
        bundle = await kind.resource.view(session, principal, case_id, kinds=(OrgKind.RETAILER,))
    except Problem as missing:
        return render(
            request,
            "retail/missing.html",
            user,
            status_code=missing.status,
            kind=kind,
            problem=missing,
        )
    view = kind.present(bundle, settings.public_base_url, Viewer(owner=True))
    # The view's feedback lacks whether staff followed it up; its row has it.
    given = getattr(view, "feedback", None)
    feedback = await session.get(models.Feedback, given.id) if given else None
    links = [
        (field, BY_TYPE[case_type], value)
        for field, case_type in LINKS
        if (value := getattr(view, field, None))
    ]
    return render(
        request,
        "retail/case.html",
        user,
        status_code=status_code,
        kind=kind,
        case=view,
        data=view.model_dump(mode="json"),
        documents=[(d, document_href(d.id)) for d in bundle.documents],
        links=links,
        feedback=feedback,
        follow_up_state=follow_up_state,
        actions=_offered(kind, bundle),
        labels=ACTION_LABELS,
        done=DONE.get(request.query_params.get("done", "")),
        problem=problem,
        failed=failed,
        nonce=new_nonce,
        when=when,
        actor_words=actor_words,
    )


def _offered(kind: CaseKind, bundle: CaseBundle) -> list[str]:
    """The buttons of the case's status; the fee waiver only where a fee could be kept (a
    refund) and only once (the workflow refuses a second)."""
    case = bundle.case
    waived = any(e.event == "restocking_fee_waived" for e in bundle.timeline)
    return [
        action
        for action in kind.actions(case.status)
        if action != "waive_restocking_fee" or (case.resolution == "refund" and not waived)
    ]


def page_handler(
    kind: CaseKind,
) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def page(
        case_id: str,
        request: Request,
        user: ConsoleUserDep,
        session: SessionDep,
        res: ResourcesDep,
    ) -> Response:
        require_retailer(user)
        return await case_page(request, user, session, res.settings, kind, case_id)

    page.__name__ = f"console_{kind.case_type}_page"
    return page


def action_handler(
    kind: CaseKind,
) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def act(
        case_id: str,
        action: str,
        request: Request,
        user: ConsoleUserDep,
        session: SessionDep,
        res: ResourcesDep,
        _csrf: CsrfDep,
    ) -> Response:
        require_retailer(user)
        form = await request.form()
        try:
            key = idempotency_key(user.user_id, form)
            commands = await Commands.of(res, session, key)
            await send(kind, action, user.principal(), case_id, commands, form)
        except Exception as error:
            problem = refusal(error)
            if problem is None:
                raise
            await session.rollback()
            return await case_page(
                request,
                user,
                session,
                res.settings,
                kind,
                case_id,
                problem=problem,
                failed=action,
                status_code=problem.status,
            )
        return RedirectResponse(f"/console/{kind.path}/{case_id}?done={action}", status_code=303)

    act.__name__ = f"console_{kind.case_type}_action"
    return act


for _kind in KINDS:
    router.add_api_route(
        f"/{_kind.path}/{{case_id}}",
        page_handler(_kind),
        methods=["GET"],
        response_class=HTMLResponse,
        name=f"console_{_kind.case_type}_page",
    )
    router.add_api_route(
        f"/{_kind.path}/{{case_id}}/{{action}}",
        action_handler(_kind),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"console_{_kind.case_type}_action",
    )
