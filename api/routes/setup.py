"""The retailer's policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import OrgKind
from api.deps import PrincipalDep, SessionDep
from api.schemas.setup import PolicyDocument
from db import models
from db.queries import policy_document
from db.types import utcnow

router = APIRouter(prefix="/v1/policy", tags=["setup"])


@router.put("", response_model=PolicyDocument)
async def put_policy(
    body: PolicyDocument, principal: PrincipalDep, session: SessionDep
) -> PolicyDocument:
    """Replace the policy; fields left out take their defaults. Open cases keep theirs."""
    principal.require(OrgKind.RETAILER)
    document: dict[str, Any] = body.model_dump(mode="json")
    row = await session.get(models.RetailerPolicy, principal.owner_id)
    if row is None:
        session.add(models.RetailerPolicy(org_id=principal.owner_id, document=document))
    else:
        row.document = document
        row.updated_at = utcnow()
    await session.commit()
    return body


@router.get("", response_model=PolicyDocument)
async def get_policy(principal: PrincipalDep, session: SessionDep) -> PolicyDocument:
    principal.require(OrgKind.RETAILER)
    return PolicyDocument.model_validate(await policy_document(session, principal.owner_id))
