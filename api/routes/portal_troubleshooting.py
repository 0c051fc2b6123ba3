"""A product's troubleshooting steps: what the return portal shows a customer before a
`defective` return, in case one of them fixes it."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import OrgKind
from api.commands import answer_once, setup_command_key
from api.deps import PrincipalDep, SessionDep
from api.errors import not_found
from api.idempotency import IdempotencyKey
from api.schemas.orders import Troubleshooting, TroubleshootingStepIO
from db.catalog import product
from db.portal import Step, replace_steps, steps_by_sku

router = APIRouter(prefix="/v1/products", tags=["setup"])


@router.put("/{sku}/troubleshooting", response_model=Troubleshooting)
async def put_troubleshooting(
    sku: str,
    body: Troubleshooting,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Troubleshooting:
    """Replace the product's steps (at most 10; titles up to 120 characters, bodies up to
    2000); `{"steps": []}` removes them. The same body twice leaves them as the first did;
    a retry with the same `Idempotency-Key` gets the first answer and changes nothing (a
    change made since stays)."""
    principal.require(OrgKind.RETAILER)
    found = await product(session, principal.owner_id, sku)
    if found is None:
        raise not_found("product")
    key = setup_command_key(
        idempotency_key,
        principal,
        "put_troubleshooting",
        {"sku": sku, **body.model_dump(mode="json")},
    )

    async def put() -> Troubleshooting:
        await replace_steps(session, found.id, [Step(s.title, s.body) for s in body.steps])
        return await get_troubleshooting(sku, principal, session)

    return await answer_once(session, key, Troubleshooting, put)


@router.get("/{sku}/troubleshooting", response_model=Troubleshooting)
async def get_troubleshooting(
    sku: str, principal: PrincipalDep, session: SessionDep
) -> Troubleshooting:
    principal.require(OrgKind.RETAILER)
    if await product(session, principal.owner_id, sku) is None:
        raise not_found("product")
    steps = (await steps_by_sku(session, principal.owner_id, [sku])).get(sku, [])
    return Troubleshooting(steps=[TroubleshootingStepIO(title=s.title, body=s.body) for s in steps])
