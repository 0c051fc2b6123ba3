"""Starting a case from the console: a return (with the goodwill override, when staff decide
to help outside the window or coverage) and a service-plan enrolment. Each form posts to
the JSON API's own create route function, with the user's principal and the form's nonce
as the `Idempotency-Key`: submitted twice, one case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.commands import Commands
from api.console.csrf import CsrfDep
from api.console.render import render
from api.console.retail_commands import customer_fields
from api.console.retail_common import require_retailer
from api.console.retail_forms import (
    body,
    checked,
    idempotency_key,
    new_nonce,
    refusal,
    text,
    whole,
)
from api.console.session import ConsoleUser, ConsoleUserDep
from api.deps import AsyncSession, ResourcesDep, SessionDep
from api.errors import Problem
from api.routes import rmas, service_plans
from api.schemas.rma import RmaCreate
from api.schemas.service_plan import EnrollBody
from db.catalog import plan_entries
from domain.rma import Resolution, ReturnReason

router = APIRouter()


def _moment(day: str) -> str:
    """A date field (`2026-11-01`) as the API's moment: that day's start, UTC."""
    return f"{day.strip()}T00:00:00Z" if day.strip() else ""


def rma_fields(form: FormData) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "order_ref": text(form, "order_ref").strip(),
        "purchased_at": _moment(text(form, "purchased_at")),
        "customer": customer_fields(form),
        "items": [
            {
                "sku": text(form, "sku").strip(),
                "serial": text(form, "serial").strip(),
                "quantity": whole(form, "quantity", "1"),
                "reason": text(form, "reason"),
                "notes": text(form, "notes"),
            }
        ],
        "resolution": text(form, "resolution"),
    }
    if checked(form, "goodwill"):
        fields["override"] = {"reason": text(form, "override_reason").strip()}
    return fields


def _form_page(
    request: Request,
    user: ConsoleUser,
    template: str,
    form: FormData | None = None,
    problem: Problem | None = None,
    **context: Any,
) -> HTMLResponse:
    return render(
        request,
        template,
        user,
        status_code=problem.status if problem else 200,
        values=dict(form) if form is not None else {},
        problem=problem,
        nonce=new_nonce,
        **context,
    )


def _rma_page(
    request: Request,
    user: ConsoleUser,
    form: FormData | None = None,
    problem: Problem | None = None,
) -> HTMLResponse:
    return _form_page(
        request,
        user,
        "retail/new_rma.html",
        form,
        problem,
        resolutions=[r.value for r in Resolution],
        reasons=[r.value for r in ReturnReason],
    )


@router.get("/rmas/new", response_class=HTMLResponse)
async def new_rma(request: Request, user: ConsoleUserDep) -> HTMLResponse:
    require_retailer(user)
    return _rma_page(request, user)


@router.post("/rmas/new", response_class=HTMLResponse)
async def create_rma(
    request: Request, user: ConsoleUserDep, session: SessionDep, res: ResourcesDep, _csrf: CsrfDep
) -> Response:
    require_retailer(user)
    form = await request.form()
    try:
        key = idempotency_key(user.user_id, form)
        commands = await Commands.of(res, session, key)
        created = await rmas.create_rma(
            body(RmaCreate, rma_fields(form)), user.principal(), commands
        )
    except Exception as error:
        problem = refusal(error)
        if problem is None:
            raise
        await session.rollback()
        return _rma_page(request, user, form, problem)
    return RedirectResponse(f"/console/rmas/{created.id}", status_code=303)


async def _plan_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    form: FormData | None = None,
    problem: Problem | None = None,
) -> HTMLResponse:
    plans = [(entry.code, entry.name) for entry in await plan_entries(session, user.org_id)]
    return _form_page(request, user, "retail/new_plan.html", form, problem, plans=plans)


@router.get("/service-plans/new", response_class=HTMLResponse)
async def new_plan(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    require_retailer(user)
    return await _plan_page(request, user, session)


@router.post("/service-plans/new", response_class=HTMLResponse)
async def enrol(
    request: Request, user: ConsoleUserDep, session: SessionDep, res: ResourcesDep, _csrf: CsrfDep
) -> Response:
    require_retailer(user)
    form = await request.form()
    fields = {
        "plan_code": text(form, "plan_code"),
        "unit": {
            "sku": text(form, "sku").strip(),
            "serial": text(form, "serial").strip(),
            "purchased_at": _moment(text(form, "purchased_at")),
        },
        "customer": customer_fields(form),
        "payment_method": text(form, "payment_method").strip(),
    }
    try:
        key = idempotency_key(user.user_id, form)
        commands = await Commands.of(res, session, key)
        enrolled = await service_plans.enroll(body(EnrollBody, fields), user.principal(), commands)
    except Exception as error:
        problem = refusal(error)
        if problem is None:
            raise
        await session.rollback()
        return await _plan_page(request, user, session, form, problem)
    return RedirectResponse(f"/console/service-plans/{enrolled.id}", status_code=303)
