"""The return portal's steps, shared by its JSON API (`portal.py`) and its pages
(`portal_page.py`): find the shop by slug, look an order up by number and email (rate
limited), open a lookup by its token, say which lines may be returned and how (the RMA
authorization rules), record a deflection, and start a return through the same start as
`POST /v1/rmas`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from api.auth import OrgKind, Principal
from api.catalog import Product
from api.commands import Commands
from api.deps import AsyncSession
from api.errors import Problem, not_found
from api.routes.rmas import start_rma
from api.schemas.rma import RmaCreate, RmaPublic
from api.schemas.setup import PolicyDocument
from db import models
from db.orders import StoredOrder, normal_email, order_by_id, order_row
from db.organisations import organisation_by_slug
from db.policies import policy_document
from db.portal import (
    Step,
    add_lookup,
    count_lookup,
    key_used,
    lines_in_open_cases,
    live_lookup,
    products_of,
    record_deflection,
    steps_by_sku,
)
from db.queries import serials_held, serials_with_active_plans
from domain.common import Actor, Policy
from domain.portal import (
    LOOKUP_TOKEN_TTL,
    LOOKUPS_PER_MINUTE,
    Returnability,
    portal_item,
    returnability,
)
from domain.rma import Resolution, ReturnReason

# Compared against when the order is unknown, so a wrong email and an unknown order take
# the same steps (one query, one constant-time comparison) and answer alike.
_NO_EMAIL = "\x00" * 32
NO_ORDER_DETAIL = "no order matches this order number and email"
# An item no longer in the catalog cannot be priced, so it cannot be returned here.
NOT_IN_CATALOG = "not_in_catalog"


class RateLimited(Exception):
    """More lookups this minute than a client may make; `retry_after` seconds until the
    next minute."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Shop:
    id: str
    name: str
    slug: str
    # What its portal reads in: the retailer's defaults for its customers.
    locale: str = "en"
    time_zone: str = "UTC"


@dataclass(frozen=True)
class PortalLine:
    id: int
    sku: str
    name: str
    serial: str | None
    quantity: int
    allowed: Returnability
    troubleshooting: list[Step]
    product: Product | None


@dataclass(frozen=True)
class OpenedOrder:
    """An order a live lookup opens, with what the customer may do with each line."""

    shop: Shop
    lookup: models.PortalLookup
    order: StoredOrder
    lines: list[PortalLine]

    def line(self, line_id: int) -> PortalLine | None:
        return next((line for line in self.lines if line.id == line_id), None)


def now() -> datetime:
    return datetime.now(UTC)


async def shop_of(session: AsyncSession, slug: str) -> Shop:
    """The retailer whose portal `slug` names; 404 for anything else."""
    org = await organisation_by_slug(session, slug) if len(slug) <= 64 else None
    if org is None or org.kind != OrgKind.RETAILER.value:
        raise not_found("return portal")
    return Shop(org.id, org.name, org.slug, org.default_locale, org.default_time_zone)


def client_of(shop: Shop, host: str | None) -> str:
    """What the rate windows count a client by, at one shop's portal: a SHA-256 of the shop
    and the client's address (never the address itself)."""
    return hashlib.sha256(f"{shop.id}:{host or 'unknown'}".encode()).hexdigest()


async def look_up(
    session: AsyncSession, shop: Shop, order_ref: str, email: str, client: str
) -> tuple[str, OpenedOrder]:
    """A new lookup token for the order this number and email name, and the order it opens.
    Counted against the client's lookups this minute (wrong ones too): past the limit,
    `RateLimited`. A wrong email is the same 404 as an unknown order."""
    moment = now()
    count, window_end = await count_lookup(session, client, moment)
    if count > LOOKUPS_PER_MINUTE:
        raise RateLimited(max(1, int((window_end - moment).total_seconds() + 0.999)))
    found = await order_row(session, shop.id, order_ref.strip())
    stored_email = found.customer_email if found else _NO_EMAIL
    matches = hmac.compare_digest(normal_email(email).encode(), stored_email.encode())
    if found is None or not matches:
        raise Problem(404, "not_found", NO_ORDER_DETAIL)
    token = secrets.token_urlsafe(32)
    await add_lookup(session, shop.id, found.id, token, moment, LOOKUP_TOKEN_TTL)
    return token, await open_lookup(session, shop, token)


async def open_lookup(session: AsyncSession, shop: Shop, token: str) -> OpenedOrder:
    """The order a live lookup token opens; 404 `lookup_expired` when it opens none (never
    issued, another shop's, or past its 30 minutes)."""
    moment = now()
    lookup = await live_lookup(session, shop.id, token, moment) if len(token) <= 100 else None
    order = await order_by_id(session, lookup.order_id) if lookup else None
    if lookup is None or order is None:
        raise Problem(
            404, "lookup_expired", "this order lookup has expired: look the order up again"
        )
    return OpenedOrder(shop, lookup, order, await _lines(session, shop, order, moment))


async def _lines(
    session: AsyncSession, shop: Shop, stored: StoredOrder, moment: datetime
) -> list[PortalLine]:
    lines, order = stored.lines, stored.order
    skus = {line.sku for line in lines}
    products = await _products(session, shop.id, skus)
    policy = await _policy(session, shop.id)
    in_cases = await lines_in_open_cases(session, shop.id, order.order_ref, lines)
    serials = [line.serial for line in lines if line.serial]
    planned = set(await serials_with_active_plans(session, shop.id, serials)) if serials else set()
    steps = await steps_by_sku(session, shop.id, skus)
    portal_lines = []
    for line in lines:
        product = products.get(line.sku)
        if product is None:
            allowed = Returnability(reason=NOT_IN_CATALOG)
        else:
            item = portal_item(
                sku=line.sku,
                serial=line.serial or "",
                unit_price=product.unit_price,
                warranty_months=product.warranty_months,
                reason=ReturnReason.DEFECTIVE,
            )
            allowed = returnability(
                placed_at=order.placed_at,
                now=moment,
                policy=policy,
                item=item,
                in_open_case=line.id in in_cases,
                has_active_plan=line.serial in planned,
            )
        portal_lines.append(
            PortalLine(
                id=line.id,
                sku=line.sku,
                name=product.name if product else line.sku,
                serial=line.serial,
                quantity=line.quantity,
                allowed=allowed,
                troubleshooting=steps.get(line.sku, []),
                product=product,
            )
        )
    return portal_lines


async def _for_serial(
    session: AsyncSession, opened: OpenedOrder, line: PortalLine, serial: str
) -> PortalLine:
    """A line without a serial, judged again for the unit the customer names: that unit may
    be in an open case, or have a service plan, as the line could not tell."""
    shop_id = opened.shop.id
    in_cases, with_plans = await serials_held(session, shop_id, [serial], "")
    in_case, planned = bool(in_cases), bool(with_plans)
    if line.product is None or not line.allowed.returnable:
        return line
    item = portal_item(
        sku=line.sku,
        serial=serial,
        unit_price=line.product.unit_price,
        warranty_months=line.product.warranty_months,
        reason=ReturnReason.DEFECTIVE,
    )
    allowed = returnability(
        placed_at=opened.order.order.placed_at,
        now=now(),
        policy=await _policy(session, shop_id),
        item=item,
        in_open_case=in_case,
        has_active_plan=planned,
    )
    return replace(line, serial=serial, allowed=allowed)


async def _policy(session: AsyncSession, org_id: str) -> Policy:
    return PolicyDocument.model_validate(await policy_document(session, org_id)).to_domain()


async def _products(session: AsyncSession, org_id: str, skus: set[str]) -> dict[str, Product]:
    # The catalog as a new case reads it, without refusing skus it no longer has.
    return {
        p.sku: Product(p.name, p.category, p.unit_price, p.warranty_months)
        for p in await products_of(session, org_id, skus)
    }


def pick_line(opened: OpenedOrder, sku: str, serial: str | None) -> tuple[PortalLine, str | None]:
    """The order's line a customer means by sku (and serial), and the unit's serial: the
    line's own, or the one the customer gives for a line without. 422 `not_on_order`."""
    candidates = [line for line in opened.lines if line.sku == sku]
    given = serial.strip() if serial else None
    exact = [line for line in candidates if given and line.serial == given]
    if exact:
        return exact[0], given
    if given:
        unnamed = [line for line in candidates if line.serial is None]
        if unnamed:
            return unnamed[0], given
    elif len(candidates) == 1 or (candidates and all(c.serial is None for c in candidates)):
        return candidates[0], candidates[0].serial
    what = f"{sku} with serial {given}" if given else sku
    raise Problem(422, "not_on_order", f"the order has no item {what}", sku=sku)


async def deflect(
    session: AsyncSession, opened: OpenedOrder, line: PortalLine, step: int
) -> models.Deflection:
    """Record that troubleshooting step `step` (1-based) fixed the line's unit."""
    if not line.troubleshooting:
        raise Problem(
            422, "no_troubleshooting", f"{line.sku} has no troubleshooting steps", sku=line.sku
        )
    if not 1 <= step <= len(line.troubleshooting):
        raise Problem(
            422,
            "validation_error",
            f"step must be 1 to {len(line.troubleshooting)} for {line.sku}",
            errors=[{"loc": ["body", "step"], "msg": "no such step", "type": "value_error"}],
        )
    return await record_deflection(
        session,
        opened.lookup,
        sku=line.sku,
        serial=line.serial,
        step=step,
        step_title=line.troubleshooting[step - 1].title,
        now=now(),
    )


@dataclass(frozen=True)
class ReturnAsked:
    sku: str
    serial: str | None
    reason: ReturnReason
    resolution: Resolution
    notes: str


async def start_return(
    commands: Commands, opened: OpenedOrder, asked: ReturnAsked, idempotency_key: str | None
) -> RmaPublic:
    """Start the customer's return of one unit through `start_rma` (as the retailer's own
    `POST /v1/rmas` does), with the order's customer and date, actor `customer`. Refused
    before anything starts: a line the portal does not offer (409 `not_returnable` with the
    reason) or a resolution the policy does not allow for it (422
    `resolution_not_allowed` with those it allows)."""
    line, serial = pick_line(opened, asked.sku, asked.serial)
    order = opened.order.order
    # The key is the customer's, for this order: it never meets the retailer's own keys.
    key = None
    if idempotency_key is not None:
        key = "portal:" + hashlib.sha256(f"{order.id}:{idempotency_key}".encode()).hexdigest()
    portal_commands = replace(commands, key=key)
    owner = Principal(OrgKind.RETAILER, opened.shop.id)
    if key is not None and serial and await key_used(commands.session, opened.shop.id, key):
        # A retry: its return is open now (so the line is no longer offered), and the
        # start answers it with that return, or 409 for another body.
        body = _rma_body(opened, line, serial, asked)
        return await start_rma(portal_commands, owner, body, created_by=Actor.customer())
    if line.serial is None and serial:
        line = await _for_serial(commands.session, opened, line, serial)
    if not line.allowed.returnable:
        raise Problem(
            409,
            "not_returnable",
            f"{line.name} cannot be returned here",
            reason=line.allowed.reason,
        )
    if asked.resolution not in line.allowed.resolutions:
        raise Problem(
            422,
            "resolution_not_allowed",
            f"{asked.resolution.value} is not available for {line.name}",
            allowed=[r.value for r in line.allowed.resolutions],
        )
    if not serial:
        raise Problem(
            422,
            "validation_error",
            "the unit's serial number is needed for this item",
            errors=[{"loc": ["body", "serial"], "msg": "required", "type": "missing"}],
        )
    body = _rma_body(opened, line, serial, asked)
    return await start_rma(portal_commands, owner, body, created_by=Actor.customer())


def _rma_body(opened: OpenedOrder, line: PortalLine, serial: str, asked: ReturnAsked) -> RmaCreate:
    """The return as a retailer would have sent it to `POST /v1/rmas` (the same JSON, so the
    same validation): the order's customer and date, one unit."""
    order = opened.order.order
    return RmaCreate.model_validate(
        {
            "order_ref": order.order_ref,
            "purchased_at": order.placed_at.isoformat(),
            "customer": opened.order.customer,
            "items": [
                {
                    "sku": line.sku,
                    "serial": serial,
                    "quantity": 1,
                    "reason": asked.reason.value,
                    "notes": asked.notes,
                }
            ],
            "resolution": asked.resolution.value,
        }
    )
