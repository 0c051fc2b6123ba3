"""The return portal for people, `/returns/{slug}`: server-rendered HTML, no JavaScript.

The order number and email open the order (the same lookup as the JSON API, rate limited
alike); the lookup token then lives in an HttpOnly, SameSite=Strict cookie scoped to this
shop's portal, never in a URL. Choosing an item and a reason are GET forms; a `defective`
item with troubleshooting steps shows them first, where "This fixed it" records a
deflection (POST, then 303) and "Still broken" carries on; the return itself is a POST
answered with 303 to the case's tracking page, where the label is."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import TypeAdapter, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.commands import Commands
from api.deps import AsyncSession, ResourcesDep, SessionDep
from api.errors import Problem, from_update_failure, temporal_unavailable
from api.idempotency import form_key
from api.routes.portal_flow import (
    OpenedOrder,
    PortalLine,
    RateLimited,
    ReturnAsked,
    Shop,
    client_of,
    deflect,
    look_up,
    open_lookup,
    shop_of,
    start_return,
)
from api.schemas.common import Serial, Text
from api.schemas.orders import OrderRef
from db.portal import has_document
from domain.portal import LOOKUP_TOKEN_TTL, OPEN_CASE
from domain.rma import Resolution, ReturnReason
from presentation.i18n import N_, Translator, install_jinja, translator

router = APIRouter(prefix="/returns", tags=["return portal page"])

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
install_jinja(_env)

# The tracking page's stylesheet and the portal's few additions, inlined and allowed by
# their hash alone, as the tracking page does.
_STYLES = (_TEMPLATES / "track_styles.html").read_text(encoding="utf-8") + (
    _TEMPLATES / "portal_styles.html"
).read_text(encoding="utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLES.encode()).digest()).decode()
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # The pages show a customer's order: never cached, never sent on as a referrer.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
COOKIE = "portal_lookup"
# How long the return waits for its label before sending the customer to the tracking
# page (which shows the label as soon as it exists, whether or not it waited).
LABEL_WAIT_SECONDS = 5.0

REASON_WORDS = {
    ReturnReason.DEFECTIVE: N_("It's faulty or stopped working"),
    ReturnReason.DAMAGED_IN_TRANSIT: N_("It arrived damaged"),
    ReturnReason.WRONG_ITEM: N_("I received the wrong item"),
    ReturnReason.NOT_AS_DESCRIBED: N_("It isn't as described"),
    ReturnReason.NO_LONGER_NEEDED: N_("I no longer need it"),
    ReturnReason.OTHER: N_("Something else"),
}
RESOLUTION_WORDS = {
    Resolution.REFUND: N_("A refund"),
    Resolution.REPLACEMENT: N_("A replacement"),
    Resolution.REPAIR: N_("A repair"),
}
WHY_NOT = {
    OPEN_CASE: N_("A return or repair for this item is already under way."),
    "outside_return_window": N_("The return period for this item has ended."),
    "not_covered": N_("This item is no longer covered for a return."),
    "not_in_catalog": N_("Please contact the shop to return this item."),
}
_EXPIRED = N_("Your order lookup has expired. Please find your order again.")
_NOT_FOUND = N_("We couldn't find an order with that number and email address.")
_TOO_MANY = N_("Too many attempts. Please wait a minute and try again.")
_FILL_IN = N_("Please enter your order number and the email address you ordered with.")
_PICK_REASON = N_("Please choose why you are returning the item.")
_GONE = N_("That item is no longer on your order. Please choose again.")
_PICK_RESOLUTION = N_("Please choose a refund, a replacement or a repair.")
_CHECK_FIELDS = N_("Please check the serial number and your note (up to 2000 characters).")
_REFUSALS = {
    "not_returnable": N_("This item can't be returned here any more."),
    "resolution_not_allowed": N_("That option isn't available for this item."),
    "validation_error": N_("Please enter the item's serial number."),
    "not_on_order": N_("That serial number isn't on your order."),
}
_TRY_AGAIN = N_("We couldn't start your return just now. Please try again in a moment.")


def _reader(shop: Shop) -> Translator:
    """The shop's language and clock (its customers name none before they find an order)."""
    return translator(shop.locale, shop.time_zone)


# ------------------------------------------------------------------ pages


@router.get("/{slug}", response_class=HTMLResponse, name="return_portal")
async def start_page(slug: str, session: SessionDep) -> Response:
    shop = await _shop(session, slug)
    if shop is None:
        return _not_found()
    return _start(shop)


@router.post("/{slug}/lookup", response_class=HTMLResponse)
async def lookup_form(
    slug: str,
    request: Request,
    session: SessionDep,
    order_ref: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    shop = await _shop(session, slug)
    if shop is None:
        return _not_found()
    t = _reader(shop)
    address = email.strip()
    try:
        ref = _valid(OrderRef, order_ref)
    except ValueError:
        ref = None
    if not ref or not 0 < len(address) <= 320 or any(ord(c) < 32 for c in address):
        return _start(shop, 422, t.gettext(_FILL_IN), order_ref[:100], email[:320])
    client = client_of(shop, request.client.host if request.client else None)
    try:
        token, _ = await look_up(session, shop, ref, address, client)
    except RateLimited as exc:
        page = _start(shop, 429, t.gettext(_TOO_MANY), ref, address)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except Problem:
        return _start(shop, 404, t.gettext(_NOT_FOUND), ref, address)
    response = _see_other(f"/returns/{shop.slug}/order")
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(LOOKUP_TOKEN_TTL.total_seconds()),
        path=f"/returns/{shop.slug}",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/{slug}/order", response_class=HTMLResponse)
async def order_page(
    slug: str, session: SessionDep, portal_lookup: Annotated[str | None, Cookie()] = None
) -> Response:
    opened = await _opened(session, slug, portal_lookup)
    if isinstance(opened, Response):
        return opened
    return _order(opened)


@router.get("/{slug}/items/{line_id}", response_class=HTMLResponse)
async def item_page(
    slug: str,
    line_id: int,
    session: SessionDep,
    reason: str = "",
    still_broken: str = "",
    portal_lookup: Annotated[str | None, Cookie()] = None,
) -> Response:
    """The next step for one item and reason: its troubleshooting steps first for a
    `defective` one that has some (unless the customer says it is still broken), else the
    return form."""
    opened = await _opened(session, slug, portal_lookup)
    if isinstance(opened, Response):
        return opened
    line = _offered(opened, line_id)
    if line is None:
        return _order(opened, 404, _reader(opened.shop).gettext(_GONE))
    if reason not in REASON_WORDS:
        return _order(opened, 422, _reader(opened.shop).gettext(_PICK_REASON))
    chosen = ReturnReason(reason)
    if chosen is ReturnReason.DEFECTIVE and line.troubleshooting and not still_broken:
        return _html(
            "portal_troubleshoot.html",
            opened.shop,
            {"line": line, "steps": line.troubleshooting, "reason": reason},
        )
    return _return_form(opened, line, chosen)


@router.post("/{slug}/items/{line_id}/fixed", response_class=HTMLResponse)
async def fixed_form(
    slug: str,
    line_id: int,
    session: SessionDep,
    step: Annotated[str, Form()] = "",
    portal_lookup: Annotated[str | None, Cookie()] = None,
) -> Response:
    opened = await _opened(session, slug, portal_lookup)
    if isinstance(opened, Response):
        return opened
    line = opened.line(line_id)
    if line is None or not step.isdigit() or len(step) > 3:
        return _order(opened, 404, _reader(opened.shop).gettext(_GONE))
    try:
        await deflect(session, opened, line, int(step))
    except Problem:
        return _order(opened, 422, _reader(opened.shop).gettext(_GONE))
    return _see_other(f"/returns/{opened.shop.slug}/fixed")


@router.get("/{slug}/fixed", response_class=HTMLResponse)
async def fixed_page(slug: str, session: SessionDep) -> Response:
    shop = await _shop(session, slug)
    if shop is None:
        return _not_found()
    return _html("portal_fixed.html", shop, {})


@router.post("/{slug}/items/{line_id}/return", response_class=HTMLResponse)
async def return_form(
    slug: str,
    line_id: int,
    session: SessionDep,
    res: ResourcesDep,
    reason: Annotated[str, Form()] = "",
    resolution: Annotated[str, Form()] = "",
    serial: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str | None, Form()] = None,
    portal_lookup: Annotated[str | None, Cookie()] = None,
) -> Response:
    opened = await _opened(session, slug, portal_lookup)
    if isinstance(opened, Response):
        return opened
    line = opened.line(line_id)
    if line is None or reason not in REASON_WORDS:
        return _order(opened, 404, _reader(opened.shop).gettext(_GONE))
    chosen = ReturnReason(reason)
    if resolution not in RESOLUTION_WORDS:
        message = _reader(opened.shop).gettext(_PICK_RESOLUTION)
        return _return_form(opened, line, chosen, 422, message, serial, notes)
    try:
        key = form_key(idempotency_key)
    except Problem as refused:
        # Not a key this page rendered: no return without it (a resend would be a second
        # one). The form comes back with a fresh key, so sending it again works.
        message = _reader(opened.shop).gettext(_TRY_AGAIN)
        return _return_form(opened, line, chosen, refused.status, message, serial, notes)
    try:
        given = _valid(Serial, serial) if serial.strip() else None
        written = _valid(Text, notes.replace("\r\n", "\n"))
        commands = await Commands.of(res, session, None)
        asked = ReturnAsked(line.sku, given or line.serial, chosen, Resolution(resolution), written)
        rma = await start_return(commands, opened, asked, key)
    except ValueError:
        message = _reader(opened.shop).gettext(_CHECK_FIELDS)
        return _return_form(opened, line, chosen, 422, message, serial, notes)
    except (Problem, WorkflowUpdateFailedError, RPCError) as exc:
        problem = _problem(exc)
        message = _refusal(opened.shop, problem)
        return _return_form(opened, line, chosen, problem.status, message, serial, notes)
    assert rma.tracking_token is not None
    await _label_or_timeout(session, rma.id)
    return _see_other(f"/track/{rma.tracking_token}")


# ------------------------------------------------------------------ helpers


async def _shop(session: AsyncSession, slug: str) -> Shop | None:
    try:
        return await shop_of(session, slug)
    except Problem:
        return None


async def _opened(session: AsyncSession, slug: str, token: str | None) -> OpenedOrder | Response:
    """The order the portal's cookie opens, or the page to answer instead: 404 for an
    unknown portal, the start page (asking to look the order up again) for no live lookup."""
    shop = await _shop(session, slug)
    if shop is None:
        return _not_found()
    try:
        return await open_lookup(session, shop, token or "")
    except Problem:
        return _start(shop, 401, _reader(shop).gettext(_EXPIRED))


def _offered(opened: OpenedOrder, line_id: int) -> PortalLine | None:
    line = opened.line(line_id)
    return line if line is not None and line.allowed.returnable else None


def _valid(kind: Any, value: str) -> Any:
    """`value` as the JSON API's field of this type would take it; ValueError if not."""
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc


async def _label_or_timeout(session: AsyncSession, case_id: str) -> None:
    deadline = time.monotonic() + LABEL_WAIT_SECONDS
    while time.monotonic() < deadline:
        await session.commit()  # a fresh read each time, whatever the isolation
        if await has_document(session, case_id, "return_label"):
            return
        await asyncio.sleep(0.2)


def _refusal(shop: Shop, problem: Problem) -> str:
    """A refusal in the customer's words (a 503 or an unexpected one: try again)."""
    return _reader(shop).gettext(_REFUSALS.get(problem.code, _TRY_AGAIN))


def _problem(exc: Problem | WorkflowUpdateFailedError | RPCError) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, WorkflowUpdateFailedError):
        return from_update_failure(exc)
    return temporal_unavailable()


# ------------------------------------------------------------------ rendering


def _start(
    shop: Shop, status: int = 200, message: str | None = None, order_ref: str = "", email: str = ""
) -> Response:
    context = {"order_ref": order_ref, "email": email}
    return _html("portal_start.html", shop, context, status, message)


def _order(opened: OpenedOrder, status: int = 200, message: str | None = None) -> Response:
    t = _reader(opened.shop)
    lines = [
        {
            "id": line.id,
            "name": line.name,
            "sku": line.sku,
            "serial": line.serial,
            "quantity": line.quantity,
            "returnable": line.allowed.returnable,
            "why": t.gettext(WHY_NOT.get(line.allowed.reason or "", WHY_NOT["not_covered"])),
        }
        for line in opened.lines
    ]
    context = {
        "order_ref": opened.order.order.order_ref,
        "placed": t.date(opened.order.order.placed_at),
        "lines": lines,
        "reasons": [{"value": r.value, "words": t.gettext(w)} for r, w in REASON_WORDS.items()],
    }
    return _html("portal_order.html", opened.shop, context, status, message)


def _return_form(
    opened: OpenedOrder,
    line: PortalLine,
    reason: ReturnReason,
    status: int = 200,
    message: str | None = None,
    serial: str = "",
    notes: str = "",
) -> Response:
    t = _reader(opened.shop)
    context = {
        "line": line,
        "reason": reason.value,
        "reason_words": t.gettext(REASON_WORDS[reason]),
        "resolutions": [
            {"value": r.value, "words": t.gettext(RESOLUTION_WORDS[r])}
            for r in line.allowed.resolutions
        ],
        # Each rendered form carries its own key: a double-clicked or resent form is one
        # return, a form rendered afresh another.
        "form_key": secrets.token_urlsafe(16),
        "serial": serial[:100],
        "notes": notes[:2000],
    }
    return _html("portal_return.html", opened.shop, context, status, message)


def _html(
    template: str,
    shop: Shop,
    context: dict[str, Any],
    status: int = 200,
    message: str | None = None,
) -> Response:
    page = _env.get_template(template).render(
        styles=Markup(_STYLES),
        shop_name=shop.name,
        slug=shop.slug,
        message=message,
        i18n=_reader(shop),
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def _not_found() -> Response:
    nobody = Shop(id="", name="", slug="")
    return _html("portal_not_found.html", nobody, {}, 404)


def _see_other(location: str) -> Response:
    return RedirectResponse(location, status_code=303, headers=HEADERS)
