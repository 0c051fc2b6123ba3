"""Organisations and their API keys (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.auth import OrgKind, hash_key, new_key
from api.deps import PrincipalDep, SessionDep
from api.errors import not_found
from api.schemas.setup import ApiKeyPublic, OrgCreate, OrgPublic
from db import models

router = APIRouter(prefix="/v1/orgs", tags=["setup"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrgPublic)
async def create_org(body: OrgCreate, principal: PrincipalDep, session: SessionDep) -> OrgPublic:
    principal.require(OrgKind.ADMIN)
    org = models.Organisation(name=body.name, kind=body.kind.value)
    session.add(org)
    await session.commit()
    return OrgPublic(id=org.id, name=org.name, kind=OrgKind(org.kind))


@router.post("/{org_id}/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyPublic)
async def create_api_key(org_id: str, principal: PrincipalDep, session: SessionDep) -> ApiKeyPublic:
    principal.require(OrgKind.ADMIN)
    org = await session.get(models.Organisation, org_id)
    if org is None:
        raise not_found("organisation")
    key = new_key()
    record = models.ApiKey(org_id=org.id, key_hash=hash_key(key), prefix=key[:12])
    session.add(record)
    await session.commit()
    return ApiKeyPublic(id=record.id, key=key, org_id=org.id)
