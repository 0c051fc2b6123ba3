"""Orders: what the retailer's shop sold, to whom. The return portal finds a customer's order
here; campaigns and insight count the units sold."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from api import idempotency
from api.auth import OrgKind
from api.catalog import catalog
from api.deps import PrincipalDep, SessionDep
from api.errors import Problem, not_found
from api.idempotency import IdempotencyKey
from api.schemas.orders import OrderCreate, OrderLineOut, OrderPublic
from db.orders import LineIn, OrderCustomer, StoredOrder, order_by_ref, put_order

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderPublic,
    responses={200: {"model": OrderPublic, "description": "an order with this ref replaced"}},
)
async def create_order(
    body: OrderCreate,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderPublic:
    """Store an order (201); the same `order_ref` again replaces it and all its lines (200).
    With an `Idempotency-Key` already used for this body, the order is answered as it is
    now and nothing is written (a late retry must not undo a later replacement)."""
    principal.require(OrgKind.RETAILER)
    org_id = principal.owner_id
    if body.placed_at > datetime.now(UTC):
        raise Problem(422, "invalid_purchase_date", "the order's placed_at is in the future")
    await catalog(session, org_id, {line.sku for line in body.lines})
    if idempotency_key is not None:
        body_hash = idempotency.request_hash(body.model_dump(mode="json"))
        first = await idempotency.reserve(
            session, org_id, idempotency_key, body_hash, "order", body.order_ref
        )
        if first is not None:
            found = await order_by_ref(session, org_id, first)
            if found is None:
                raise not_found("order")
            response.status_code = status.HTTP_200_OK
            return order_public(found)
    address = body.customer.address.to_domain().to_json()
    put = await put_order(
        session,
        org_id,
        order_ref=body.order_ref,
        placed_at=body.placed_at,
        customer=OrderCustomer(
            name=body.customer.name,
            email=body.customer.email,
            phone=body.customer.phone,
            address=address,
            locale=body.customer.locale or "",
            time_zone=body.customer.time_zone or "",
        ),
        lines=[LineIn(line.sku, line.serial, line.quantity) for line in body.lines],
    )
    if put is None:
        # A concurrent request with the same Idempotency-Key stored its order first.
        if idempotency_key is None:
            raise Problem(409, "conflict", "the order changed meanwhile; send it again")
        return await create_order(body, principal, session, response, idempotency_key)
    stored, new = put
    if not new:
        response.status_code = status.HTTP_200_OK
    return order_public(stored)


@router.get("/{order_ref}", response_model=OrderPublic)
async def get_order(order_ref: str, principal: PrincipalDep, session: SessionDep) -> OrderPublic:
    principal.require(OrgKind.RETAILER)
    found = await order_by_ref(session, principal.owner_id, order_ref)
    if found is None:
        raise not_found("order")
    return order_public(found)


def order_public(stored: StoredOrder) -> OrderPublic:
    order = stored.order
    return OrderPublic(
        id=order.id,
        order_ref=order.order_ref,
        placed_at=order.placed_at,
        customer=stored.customer,
        lines=[OrderLineOut(sku=x.sku, serial=x.serial, quantity=x.quantity) for x in stored.lines],
        created_at=order.created_at,
        updated_at=order.updated_at,
    )
