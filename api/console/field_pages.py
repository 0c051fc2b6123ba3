"""Field work for a provider's technicians: `/console/field`, the site visits of every field
lifecycle as an appointment list by day (one query), and a case's page
(`/console/field/{lifecycle}/{id}`) to book its visit, record a visit's checklist (or that
it was missed) and commission it. Forms go through the JSON API's routes with the user's
principal and the form's nonce as the Idempotency-Key, as the job pages do."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import OrgKind
from api.case_access import CaseRef
from api.console.csrf import CsrfDep
from api.console.field_installation import InstallationField
from api.console.field_relocation import RelocationField
from api.console.field_work import (
    ChecklistDraft,
    FieldLifecycle,
    FieldVisit,
    checklist_draft,
    field_list,
)
from api.console.render import NAV_LINKS, NavLink, render
from api.console.session import ConsoleUser
from api.console.technician_commands import (
    STALE_FORM,
    Refused,
    TechnicianDep,
    form_key,
    run_command,
)
from api.console.technician_documents import document_links
from api.console.technician_forms import Refusal, nonce
from api.console.technician_timeline import timeline_rows
from api.deps import AsyncSession, Reads, Resources, ResourcesDep, SessionDep
from api.errors import Problem
from db.cases import cases_worked_by
from presentation.formatting import humanise

router = APIRouter()

NAV_LINKS.append(
    NavLink("/console/field", "Field work", (OrgKind.REPAIR_CENTER,), ("owner", "technician"))
)

# Every lifecycle with site visits, by its pages' path segment: a new one joins here with a
# `FieldLifecycle` of its own and then shows on the same list and pages.
FIELD_LIFECYCLES: dict[str, FieldLifecycle] = {
    lifecycle.segment: lifecycle for lifecycle in (RelocationField(), InstallationField())
}
# The most open field cases the list shows.
FIELD_LIMIT = 500


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/field", response_class=HTMLResponse, name="field_work")
async def field_work(request: Request, user: TechnicianDep, session: SessionDep) -> Response:
    lifecycles = {lc.case_type: lc for lc in FIELD_LIFECYCLES.values()}
    statuses = sorted({s for lc in lifecycles.values() for s in lc.open_statuses})
    rows = await cases_worked_by(session, user.org_id, list(lifecycles), statuses, FIELD_LIMIT)
    visits: list[FieldVisit] = []
    to_book: set[str] = set()
    for row in rows:
        lifecycle = lifecycles[row.case.case_type]
        if row.case.status not in lifecycle.open_statuses:
            continue  # another lifecycle's open status that is this one's terminal
        visit, needs_booking = lifecycle.visit(row)
        visits.append(visit)
        if needs_booking:
            to_book.add(visit.case_id)
    now = _now()
    return render(
        request,
        "field/list.html",
        user,
        work=field_list(visits, to_book, now.date()),
        nouns=[lc.noun for lc in FIELD_LIFECYCLES.values()],
    )


def _lifecycle(segment: str) -> FieldLifecycle | None:
    return FIELD_LIFECYCLES.get(segment)


def _ref(lifecycle: FieldLifecycle, reads: Reads, user: ConsoleUser, case_id: str) -> CaseRef:
    return lifecycle.resource.ref(reads, user.principal(), case_id, kinds=(OrgKind.REPAIR_CENTER,))


@router.get("/field/{segment}/{case_id}", response_class=HTMLResponse, name="field_case")
async def field_case(
    request: Request,
    segment: str,
    case_id: str,
    user: TechnicianDep,
    session: SessionDep,
    res: ResourcesDep,
) -> Response:
    return await _case_page(request, user, session, res, segment, case_id)


async def _case_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    res: Resources,
    segment: str,
    case_id: str,
    refused: Refused | None = None,
    draft: ChecklistDraft | None = None,
) -> Response:
    lifecycle = _lifecycle(segment)
    if lifecycle is None:
        return render(request, "field/missing.html", user, 404, case_id=case_id)
    try:
        bundle = await _ref(lifecycle, Reads(session, res.reader), user, case_id).view()
    except Problem as exc:
        if exc.status != 404:
            raise
        return render(request, "field/missing.html", user, 404, case_id=case_id)
    view = lifecycle.commands.show(bundle, user.principal(), res.settings)
    case = bundle.case
    steps = lifecycle.steps(case)
    now = _now()
    checklist_step = steps.done or ("commissioning" if steps.commission else None)
    if draft is None and checklist_step:
        draft = ChecklistDraft(list(lifecycle.checklist(checklist_step)))
    context: dict[str, Any] = {
        "lifecycle": lifecycle,
        "path": f"/console/field/{segment}/{case_id}",
        "case_id": case.id,
        "status": humanise(case.status),
        "view": view,
        "customer": getattr(view, "customer", None),
        "facts": lifecycle.facts(view),
        "steps": steps,
        "checklist": draft,
        "documents": document_links(bundle),
        "timeline": timeline_rows(bundle, now.date()),
        "refused": refused,
        "form_key": form_key,
        "earliest": (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "technician": user.name,
    }
    return render(request, "field/case.html", user, refused.status if refused else 200, **context)


async def _command(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    res: Resources,
    segment: str,
    case_id: str,
    action: str,
) -> Response:
    lifecycle = _lifecycle(segment)
    if lifecycle is None:
        return render(request, "field/missing.html", user, 404, case_id=case_id)
    form = await request.form()
    key = nonce(form)
    draft: ChecklistDraft | None = None
    if action != "book":
        step = "commissioning" if action == "commission" else str(form.get("outcome") or "")
        draft = checklist_draft(form, lifecycle.checklist(step))
    if key is None:
        return await _case_page(request, user, session, res, segment, case_id, STALE_FORM, draft)
    ref = _ref(lifecycle, Reads(session, res.reader), user, case_id)
    if action == "book":
        try:
            case = (await ref.open()).case
        except Problem as exc:
            if exc.status != 404:
                raise
            return render(request, "field/missing.html", user, 404, case_id=case_id)
        send = lifecycle.book(form, ref, case)
    elif action == "report":
        assert draft is not None
        send = lifecycle.report(form, draft, ref)
    else:
        assert draft is not None
        send = lifecycle.commission(form, draft, ref)
    if isinstance(send, Refusal):
        invalid = Refused(422, "; ".join(send.messages))
        return await _case_page(request, user, session, res, segment, case_id, invalid, draft)
    refused = await run_command(session, res, key, send)
    if refused is not None:
        return await _case_page(request, user, session, res, segment, case_id, refused, draft)
    return RedirectResponse(f"/console/field/{segment}/{case_id}", status_code=303)


def _command_route(action: str) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def post(
        request: Request,
        segment: str,
        case_id: str,
        user: TechnicianDep,
        session: SessionDep,
        res: ResourcesDep,
        _csrf: CsrfDep,
    ) -> Response:
        return await _command(request, user, session, res, segment, case_id, action)

    return post


# (the path's last segment, the command, the route's name)
_COMMAND_ROUTES = (
    ("appointments", "book", "field_book"),
    ("visit", "report", "field_visit_done"),
    ("commissioning", "commission", "field_commissioning"),
)
for _tail, _action, _name in _COMMAND_ROUTES:
    router.add_api_route(
        f"/field/{{segment}}/{{case_id}}/{_tail}",
        _command_route(_action),
        methods=["POST"],
        response_class=HTMLResponse,
        name=_name,
    )
