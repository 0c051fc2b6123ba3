"""The repair center technician's console: the job board (`/console/jobs`) and a job's page
with its next steps, the diagnosis and quote form, the quality checklist and the job's
labels and certificate (`/console/jobs/{id}`).

Pages read the read model (the board in one statement, a job as the JSON API shows it to
the center: its customer as name and address only, no tracking token). Forms post to the
same route functions as the JSON API, with the technician's principal (the timeline names
them) and a per-form nonce as the Idempotency-Key; a refusal re-renders the page with the
reason in a `role="alert"`, and success answers 303 back to the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import OrgKind
from api.case_access import CaseRef
from api.commands import Commands
from api.console import field_pages, technician_documents
from api.console.csrf import CsrfDep
from api.console.render import NAV_LINKS, NavLink, render
from api.console.session import ConsoleUser
from api.console.technician_board import BOARD_LIMIT, BOARD_STATUSES, board, sla_view, status_title
from api.console.technician_commands import (
    STALE_FORM,
    Refused,
    TechnicianDep,
    form_key,
    run_command,
)
from api.console.technician_documents import document_links
from api.console.technician_forms import (
    QA_CHECKLIST,
    DiagnosisDraft,
    QaDraft,
    Refusal,
    diagnosis_body,
    diagnosis_draft,
    nonce,
    qa_body,
    qa_draft,
    status_body,
)
from api.console.technician_steps import job_steps
from api.console.technician_timeline import timeline_rows
from api.deps import AsyncSession, Reads, Resources, ResourcesDep, SessionDep
from api.errors import Problem
from api.routes import repairs
from api.schemas.repair import RepairPublic
from db.cases import cases_worked_by
from domain.contracts.facts import RepairFacts
from presentation.formatting import human_datetime, money_words

router = APIRouter()
# One router for the technician's console (the one line api/console/routes.py includes):
# field work and the documents' links come with it.
router.include_router(field_pages.router)
router.include_router(technician_documents.router)

NAV_LINKS.append(
    NavLink("/console/jobs", "Jobs", (OrgKind.REPAIR_CENTER,), ("owner", "technician"))
)


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/jobs", response_class=HTMLResponse, name="technician_jobs")
async def job_board(request: Request, user: TechnicianDep, session: SessionDep) -> Response:
    statuses = [s.value for s in BOARD_STATUSES]
    rows = await cases_worked_by(session, user.org_id, ("repair",), statuses, BOARD_LIMIT + 1)
    now = _now()
    return render(
        request,
        "technician/jobs.html",
        user,
        board=board(rows, now),
        refreshed=human_datetime(now, now.date()),
        refreshed_iso=now.isoformat(),
    )


def _ref(reads: Reads, user: ConsoleUser, repair_id: str) -> CaseRef:
    """The job as the JSON API opens it for a command of its center (another's is 404)."""
    return repairs.REPAIRS.ref(reads, user.principal(), repair_id, kinds=(OrgKind.REPAIR_CENTER,))


@router.get("/jobs/{repair_id}", response_class=HTMLResponse, name="technician_job")
async def job_page(
    request: Request, repair_id: str, user: TechnicianDep, session: SessionDep, res: ResourcesDep
) -> Response:
    return await _job_page(request, user, session, res, repair_id)


async def _job_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    res: Resources,
    repair_id: str,
    refused: Refused | None = None,
    diagnosis: DiagnosisDraft | None = None,
    qa: QaDraft | None = None,
) -> Response:
    ref = _ref(Reads(session, res.reader), user, repair_id)
    try:
        bundle = await ref.view()
    except Problem as exc:
        if exc.status != 404:
            raise
        return render(request, "technician/missing.html", user, 404, repair_id=repair_id)
    job: RepairPublic = repairs.REPAIR_COMMANDS.show(bundle, user.principal(), res.settings)
    facts = RepairFacts.from_data(bundle.case.data)
    now = _now()
    context: dict[str, Any] = {
        "job": job,
        "status_title": status_title(job.status),
        "steps": job_steps(job.status),
        "sla": sla_view(job.status, facts.sla, now),
        "quote": _quote_words(job),
        "documents": document_links(bundle),
        "timeline": timeline_rows(bundle, now.date()),
        "diagnosis": diagnosis or DiagnosisDraft(),
        "qa": qa or QaDraft(),
        "qa_checklist": QA_CHECKLIST,
        "refused": refused,
        "form_key": form_key,
        "received": human_datetime(job.created_at, now.date()),
    }
    status = refused.status if refused else 200
    return render(request, "technician/job.html", user, status, **context)


def _quote_words(job: RepairPublic) -> dict[str, str] | None:
    quote = job.quote
    if quote is None:
        return None
    outcome = {"approved": "Approved", "declined": "Declined", "expired": "Expired"}
    return {
        "parts": money_words(quote.parts_total.amount, quote.parts_total.currency),
        "labor": money_words(quote.labor_total.amount, quote.labor_total.currency),
        "total": money_words(quote.total.amount, quote.total.currency),
        "expires": human_datetime(quote.expires_at, _now().date()),
        "outcome": outcome.get(quote.outcome or "", "Waiting for the customer"),
    }


def _back(repair_id: str) -> Response:
    return RedirectResponse(f"/console/jobs/{repair_id}", status_code=303)


_Body = TypeVar("_Body")


async def _submit(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    res: Resources,
    repair_id: str,
    key: str | None,
    body: _Body | Refusal,
    send: Callable[[_Body, CaseRef, Commands], Awaitable[object]],
    diagnosis: DiagnosisDraft | None = None,
    qa: QaDraft | None = None,
) -> Response:
    """One job form's command: a stale or refused form shows the job again with what was
    typed (`diagnosis`, `qa`) and why; an applied one goes back to the job."""
    refused: Refused | None
    if key is None:
        refused = STALE_FORM
    elif isinstance(body, Refusal):
        refused = Refused(422, "; ".join(body.messages))
    else:
        ref = _ref(Reads(session, res.reader), user, repair_id)
        checked = body
        refused = await run_command(
            session, res, key, lambda commands: send(checked, ref, commands)
        )
    if refused is not None:
        return await _job_page(request, user, session, res, repair_id, refused, diagnosis, qa)
    return _back(repair_id)


@router.post("/jobs/{repair_id}/status", response_class=HTMLResponse)
async def job_status(
    request: Request,
    repair_id: str,
    user: TechnicianDep,
    session: SessionDep,
    res: ResourcesDep,
    _csrf: CsrfDep,
) -> Response:
    form = await request.form()
    return await _submit(
        request,
        user,
        session,
        res,
        repair_id,
        nonce(form),
        status_body(form),
        repairs.report_status,
    )


@router.post("/jobs/{repair_id}/diagnosis", response_class=HTMLResponse)
async def job_diagnosis(
    request: Request,
    repair_id: str,
    user: TechnicianDep,
    session: SessionDep,
    res: ResourcesDep,
    _csrf: CsrfDep,
) -> Response:
    form = await request.form()
    draft = diagnosis_draft(form)
    return await _submit(
        request,
        user,
        session,
        res,
        repair_id,
        nonce(form),
        diagnosis_body(draft),
        repairs.diagnose,
        diagnosis=draft,
    )


@router.post("/jobs/{repair_id}/qa", response_class=HTMLResponse)
async def job_quality_check(
    request: Request,
    repair_id: str,
    user: TechnicianDep,
    session: SessionDep,
    res: ResourcesDep,
    _csrf: CsrfDep,
) -> Response:
    form = await request.form()
    draft = qa_draft(form)
    result = form.get("result")
    body = qa_body(draft, result if isinstance(result, str) else "")
    return await _submit(
        request, user, session, res, repair_id, nonce(form), body, repairs.quality_check, qa=draft
    )
