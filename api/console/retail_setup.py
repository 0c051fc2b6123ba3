"""The retailer's setup in the console: stock levels, the plan catalog, webhooks with their
delivery log and redelivery, and the repair network. Every form posts to the JSON API's own
route function with the user's principal; a refusal is shown inline (`role="alert"`).

Submitted twice, each has one effect: every form's nonce is its command's
`Idempotency-Key` (`console:<user>:<nonce>`), so a second submission of the same rendered
form gets the first answer and changes nothing: stock set since is not set back, a plan is
added once, a webhook created once, a delivery sent again once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.console.csrf import CsrfDep
from api.console.render import render
from api.console.retail_common import require_retailer, when
from api.console.retail_forms import (
    body,
    checked,
    idempotency_key,
    new_nonce,
    refusal,
    text,
    whole,
)
from api.console.retail_queries import failed_deliveries_by_subscription, names_of, stock_levels
from api.console.session import ConsoleUser, ConsoleUserDep
from api.deps import AsyncSession, ResourcesDep, SessionDep
from api.errors import Problem
from api.routes import inventory, plans, repair_network, webhooks
from api.schemas.plans import PlanCreate
from api.schemas.repair_network import RepairNetwork
from api.schemas.replacement import InventoryIn
from api.schemas.webhooks import WebhookCreate
from domain.service_plan import BillingPeriod

router = APIRouter()


def _page(
    request: Request,
    user: ConsoleUser,
    template: str,
    problem: Problem | None = None,
    **context: Any,
) -> HTMLResponse:
    return render(
        request,
        template,
        user,
        status_code=problem.status if problem else 200,
        problem=problem,
        nonce=new_nonce,
        when=when,
        done=DONE.get(request.query_params.get("done", "")),
        **context,
    )


DONE = {
    "stock": "Stock updated.",
    "plan": "Plan added to the catalog.",
    "network": "Repair network saved.",
    "redelivered": "Sent again: the delivery is pending.",
}


async def _refused(session: AsyncSession, error: Exception) -> Problem:
    problem = refusal(error)
    if problem is None:
        raise error
    await session.rollback()
    return problem


# ------------------------------------------------------------------ stock


async def _stock_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    problem: Problem | None = None,
    values: FormData | None = None,
) -> HTMLResponse:
    levels = await stock_levels(session, user.org_id)
    return _page(
        request,
        user,
        "retail/inventory.html",
        problem,
        levels=levels,
        values=dict(values or {}),
    )


@router.get("/inventory", response_class=HTMLResponse)
async def stock(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    require_retailer(user)
    return await _stock_page(request, user, session)


@router.post("/inventory", response_class=HTMLResponse)
async def set_stock(
    request: Request, user: ConsoleUserDep, session: SessionDep, res: ResourcesDep, _csrf: CsrfDep
) -> Response:
    require_retailer(user)
    form = await request.form()
    try:
        key = idempotency_key(user.user_id, form)
        quantity = body(InventoryIn, {"quantity": whole(form, "quantity")})
        await inventory.put_stock(
            text(form, "sku").strip(),
            quantity,
            user.principal(),
            session,
            await res.temporal(),
            key,
        )
    except Exception as error:
        problem = await _refused(session, error)
        return await _stock_page(request, user, session, problem, form)
    return RedirectResponse("/console/inventory?done=stock", status_code=303)


# ------------------------------------------------------------------ plan catalog


async def _plans_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    problem: Problem | None = None,
    values: FormData | None = None,
) -> HTMLResponse:
    catalog = await plans.list_plans(user.principal(), session)
    return _page(
        request,
        user,
        "retail/plans.html",
        problem,
        plans=catalog,
        periods=[p.value for p in BillingPeriod],
        values=dict(values or {}),
    )


def plan_fields(form: FormData) -> dict[str, Any]:
    deductibles = {
        claim: amount
        for claim in ("repair", "replacement")
        if (amount := text(form, f"deductible_{claim}").strip())
    }
    incidents = [i.strip() for i in text(form, "incidents").split(",") if i.strip()]
    fields: dict[str, Any] = {
        "code": text(form, "code").strip(),
        "name": text(form, "name").strip(),
        "term_months": whole(form, "term_months"),
        "billing_period": text(form, "billing_period"),
        "price": text(form, "price").strip(),
        "claim_limit": whole(form, "claim_limit", "0"),
        "deductibles": deductibles,
        "incidents": incidents,
        "auto_renew": checked(form, "auto_renew"),
    }
    for duration in ("waiting_period", "cancel_full_refund_within"):
        if value := text(form, duration).strip():
            fields[duration] = value
    return fields


@router.get("/plans", response_class=HTMLResponse)
async def plan_catalog(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    require_retailer(user)
    return await _plans_page(request, user, session)


@router.post("/plans", response_class=HTMLResponse)
async def add_plan(
    request: Request, user: ConsoleUserDep, session: SessionDep, _csrf: CsrfDep
) -> Response:
    require_retailer(user)
    form = await request.form()
    try:
        key = idempotency_key(user.user_id, form)
        await plans.create_plan(body(PlanCreate, plan_fields(form)), user.principal(), session, key)
    except Exception as error:
        problem = await _refused(session, error)
        return await _plans_page(request, user, session, problem, form)
    return RedirectResponse("/console/plans?done=plan", status_code=303)


# ------------------------------------------------------------------ webhooks


async def _webhooks_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    problem: Problem | None = None,
    values: FormData | None = None,
    created: Any = None,
) -> HTMLResponse:
    subscriptions = (await webhooks.list_subscriptions(user.principal(), session)).items
    failed = await failed_deliveries_by_subscription(session, user.org_id)
    return _page(
        request,
        user,
        "retail/webhooks.html",
        problem,
        subscriptions=subscriptions,
        failed=failed,
        created=created,
        values=dict(values or {}),
    )


@router.get("/webhooks", response_class=HTMLResponse)
async def webhook_list(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    require_retailer(user)
    return await _webhooks_page(request, user, session)


@router.post("/webhooks", response_class=HTMLResponse)
async def subscribe(
    request: Request, user: ConsoleUserDep, session: SessionDep, res: ResourcesDep, _csrf: CsrfDep
) -> Response:
    require_retailer(user)
    form = await request.form()
    events = [e.strip() for e in text(form, "events").replace("\n", ",").split(",") if e.strip()]
    try:
        key = idempotency_key(user.user_id, form)
        created = await webhooks.subscribe(
            body(WebhookCreate, {"url": text(form, "url").strip(), "events": events}),
            user.principal(),
            session,
            res.settings,
            res.secret_box(),
            key,
        )
    except Exception as error:
        problem = await _refused(session, error)
        return await _webhooks_page(request, user, session, problem, form)
    # The secret is shown once, on this answer (a reload of it shows the same one: the
    # form's nonce is the request's Idempotency-Key).
    return await _webhooks_page(request, user, session, created=created)


async def _deliveries_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    webhook_id: str,
    problem: Problem | None = None,
) -> HTMLResponse:
    principal = user.principal()
    params = request.query_params
    status_filter = params.get("status") or None
    cursor = params.get("cursor") or None
    try:
        subscription = await webhooks.get_subscription(webhook_id, principal, session)
        page = await webhooks.deliveries(
            webhook_id, principal, session, 50, cursor, status_filter, None
        )
    except Problem as refused:
        if refused.status == 404:
            return _page(request, user, "retail/webhook_missing.html", refused)
        subscription = await webhooks.get_subscription(webhook_id, principal, session)
        return _page(
            request,
            user,
            "retail/deliveries.html",
            refused,
            subscription=subscription,
            deliveries=[],
            status_filter="",
            next_href=None,
        )
    next_href = None
    if page.next_cursor:
        query = f"status={status_filter}&" if status_filter else ""
        next_href = f"?{query}cursor={page.next_cursor}"
    return _page(
        request,
        user,
        "retail/deliveries.html",
        problem,
        subscription=subscription,
        deliveries=page.items,
        status_filter=status_filter or "",
        next_href=next_href,
    )


@router.get("/webhooks/{webhook_id}", response_class=HTMLResponse)
async def delivery_log(
    webhook_id: str, request: Request, user: ConsoleUserDep, session: SessionDep
) -> HTMLResponse:
    require_retailer(user)
    return await _deliveries_page(request, user, session, webhook_id)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(
    webhook_id: str,
    delivery_id: str,
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
        await webhooks.redeliver(
            webhook_id,
            delivery_id,
            user.principal(),
            session,
            res.settings,
            await res.temporal(),
            key,
        )
    except Exception as error:
        problem = await _refused(session, error)
        return await _deliveries_page(request, user, session, webhook_id, problem)
    return RedirectResponse(f"/console/webhooks/{webhook_id}?done=redelivered", status_code=303)


# ------------------------------------------------------------------ repair network


async def _network_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    problem: Problem | None = None,
    values: FormData | None = None,
) -> HTMLResponse:
    current = (await repair_network.get_network(user.principal(), session)).centers or []
    names = await names_of(session, current)
    return _page(
        request,
        user,
        "retail/network.html",
        problem,
        centers=[(center, names.get(center, "")) for center in current],
        values=dict(values or {}),
    )


@router.get("/repair-network", response_class=HTMLResponse)
async def network(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    require_retailer(user)
    return await _network_page(request, user, session)


@router.post("/repair-network", response_class=HTMLResponse)
async def set_network(
    request: Request, user: ConsoleUserDep, session: SessionDep, _csrf: CsrfDep
) -> Response:
    require_retailer(user)
    form = await request.form()
    centers = [c.strip() for c in text(form, "centers").split() if c.strip()]
    try:
        key = idempotency_key(user.user_id, form)
        await repair_network.put_network(
            body(RepairNetwork, {"centers": centers}), user.principal(), session, key
        )
    except Exception as error:
        problem = await _refused(session, error)
        return await _network_page(request, user, session, problem, form)
    return RedirectResponse("/console/repair-network?done=network", status_code=303)
