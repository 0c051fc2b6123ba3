"""The retailer's policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import OrgKind
from api.deps import PrincipalDep, SessionDep
from api.schemas.setup import PolicyDocument
from db.policies import policy_document, replace_policy

router = APIRouter(prefix="/v1/policy", tags=["setup"])


@router.put("", response_model=PolicyDocument)
async def put_policy(
    body: PolicyDocument, principal: PrincipalDep, session: SessionDep
) -> PolicyDocument:
    """Replace the policy; fields left out take their defaults. Open cases keep theirs."""
    principal.require(OrgKind.RETAILER)
    document: dict[str, Any] = body.model_dump(mode="json")
    await replace_policy(session, principal.owner_id, document)
    return body


@router.get("", response_model=PolicyDocument)
async def get_policy(principal: PrincipalDep, session: SessionDep) -> PolicyDocument:
    principal.require(OrgKind.RETAILER)
    return PolicyDocument.model_validate(await policy_document(session, principal.owner_id))
