"""The return portal's JSON API, for anyone holding an order's number and email: look the
order up, say "this fixed it", or start a return. No key: the lookup token is the
credential, for 30 minutes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints

from api.commands import CommandsDep
from api.deps import SessionDep
from api.errors import problem_response
from api.idempotency import IdempotencyKey
from api.routes.portal_flow import (
    OpenedOrder,
    RateLimited,
    ReturnAsked,
    client_of,
    deflect,
    look_up,
    open_lookup,
    pick_line,
    shop_of,
    start_return,
)
from api.schemas.common import NO_CONTROL, Serial, Sku, Strict, Text, column_length
from api.schemas.orders import OrderRef
from db import models
from domain.portal import MAX_TROUBLESHOOTING_STEPS
from domain.rma import Resolution, ReturnReason

router = APIRouter(prefix="/v1/portal", tags=["return portal"])

LookupToken = Annotated[str, StringConstraints(min_length=1, max_length=100), NO_CONTROL]


class LookupIn(Strict):
    order_ref: OrderRef
    email: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=1,
            max_length=column_length(models.Order.customer_email),
        ),
        NO_CONTROL,
    ]


class StepOut(BaseModel):
    step: int = Field(description="what a deflection names (1 is the first)")
    title: str
    body: str


class PortalLineOut(BaseModel):
    sku: str
    name: str
    serial: str | None
    quantity: int
    returnable: bool
    reason: str | None = Field(
        None,
        description="why not, when not returnable: `open_case`, `outside_return_window`, "
        "`not_covered`, `not_in_catalog`",
    )
    resolutions: list[str] = Field(description="the resolutions the retailer's policy allows")
    troubleshooting: list[StepOut]


class LookupOut(BaseModel):
    lookup_token: str = Field(description="opens this order for 30 minutes")
    expires_at: datetime
    order_ref: str
    lines: list[PortalLineOut]


class DeflectionIn(Strict):
    lookup_token: LookupToken
    sku: Sku
    serial: Serial | None = None
    step: Annotated[int, Field(ge=1, le=MAX_TROUBLESHOOTING_STEPS)]


class DeflectionOut(BaseModel):
    id: str
    sku: str
    step: int
    created_at: datetime


class PortalReturnIn(Strict):
    lookup_token: LookupToken
    sku: Sku
    serial: Serial | None = Field(None, description="needed when the order does not name it")
    reason: ReturnReason
    resolution: Resolution
    notes: Text = ""


class PortalReturnOut(BaseModel):
    rma_id: str
    tracking_token: str
    status: str


def lines_out(opened: OpenedOrder) -> list[PortalLineOut]:
    return [
        PortalLineOut(
            sku=line.sku,
            name=line.name,
            serial=line.serial,
            quantity=line.quantity,
            returnable=line.allowed.returnable,
            reason=line.allowed.reason,
            resolutions=[r.value for r in line.allowed.resolutions],
            troubleshooting=[
                StepOut(step=n, title=s.title, body=s.body)
                for n, s in enumerate(line.troubleshooting, start=1)
            ],
        )
        for line in opened.lines
    ]


def rate_limited(exc: RateLimited) -> Response:
    response = problem_response(
        429,
        "rate_limited",
        "too many order lookups from here; wait a minute and try again",
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.post(
    "/{org_slug}/lookup",
    response_model=LookupOut,
    responses={404: {"description": "an unknown order and a wrong email alike"}},
)
async def lookup(org_slug: str, body: LookupIn, request: Request, session: SessionDep) -> Response:
    """Open an order by its number and the email it was placed with. More than 10 lookups a
    minute from one client (its address) at this shop's portal are refused, right or wrong
    (429 `rate_limited`, with Retry-After); counted in the database, so every API process
    shares the count."""
    shop = await shop_of(session, org_slug)
    client = client_of(shop, request.client.host if request.client else None)
    try:
        token, opened = await look_up(session, shop, body.order_ref, body.email, client)
    except RateLimited as exc:
        return rate_limited(exc)
    answer = LookupOut(
        lookup_token=token,
        expires_at=opened.lookup.expires_at,
        order_ref=opened.order.order.order_ref,
        lines=lines_out(opened),
    )
    return Response(answer.model_dump_json(), media_type="application/json")


@router.post(
    "/{org_slug}/deflections", status_code=status.HTTP_201_CREATED, response_model=DeflectionOut
)
async def create_deflection(
    org_slug: str, body: DeflectionIn, session: SessionDep, idempotency_key: IdempotencyKey = None
) -> DeflectionOut:
    """ "This fixed it": a troubleshooting step made the return unnecessary. No case starts.
    One per lookup and item: a repeat (with or without `Idempotency-Key`) answers the first."""
    shop = await shop_of(session, org_slug)
    opened = await open_lookup(session, shop, body.lookup_token)
    line, _ = pick_line(opened, body.sku, body.serial)
    deflection = await deflect(session, opened, line, body.step)
    return DeflectionOut(
        id=deflection.id,
        sku=deflection.sku,
        step=deflection.step,
        created_at=deflection.created_at,
    )


@router.post(
    "/{org_slug}/returns", status_code=status.HTTP_201_CREATED, response_model=PortalReturnOut
)
async def create_return(
    org_slug: str, body: PortalReturnIn, commands: CommandsDep
) -> PortalReturnOut:
    """Start a return of one unit of the order, through the same RMA workflow and policy as
    `POST /v1/rmas` (timeline actor `customer`); answered once the return is decided. The
    same `Idempotency-Key` and body answer the same RMA."""
    shop = await shop_of(commands.session, org_slug)
    opened = await open_lookup(commands.session, shop, body.lookup_token)
    asked = ReturnAsked(body.sku, body.serial, body.reason, body.resolution, body.notes)
    rma = await start_return(commands, opened, asked, commands.key)
    assert rma.tracking_token is not None, "the owner's view carries the token"
    return PortalReturnOut(rma_id=rma.id, tracking_token=rma.tracking_token, status=rma.status)
