"""The retailer's policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import OrgKind
from api.commands import answer_once, setup_command_key
from api.deps import PrincipalDep, SessionDep
from api.idempotency import IdempotencyKey
from api.schemas.setup import PolicyDocument
from db.policies import policy_document, replace_policy

router = APIRouter(prefix="/v1/policy", tags=["setup"])


@router.put("", response_model=PolicyDocument)
async def put_policy(
    body: PolicyDocument,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> PolicyDocument:
    """Replace the policy; fields left out take their defaults. Open cases keep theirs. A
    retry with the same `Idempotency-Key` gets the first answer and changes nothing (a
    change made since stays)."""
    principal.require(OrgKind.RETAILER)
    document: dict[str, Any] = body.model_dump(mode="json")
    key = setup_command_key(idempotency_key, principal, "put_policy", document)

    async def put() -> PolicyDocument:
        await replace_policy(session, principal.owner_id, document)
        return body

    return await answer_once(session, key, PolicyDocument, put)


@router.get("", response_model=PolicyDocument)
async def get_policy(principal: PrincipalDep, session: SessionDep) -> PolicyDocument:
    principal.require(OrgKind.RETAILER)
    return PolicyDocument.model_validate(await policy_document(session, principal.owner_id))
