"""Organisations and their API keys (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.auth import OrgKind, hash_key, new_key
from api.deps import PrincipalDep, ResourcesDep, SessionDep
from api.errors import Problem, not_found
from api.schemas.setup import ApiKeyInfo, ApiKeyPublic, OrgCreate, OrgPublic, OrgUpdate
from db import api_keys, models
from db.organisations import change_organisation, create_organisation, organisation

router = APIRouter(prefix="/v1/orgs", tags=["setup"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrgPublic)
async def create_org(body: OrgCreate, principal: PrincipalDep, session: SessionDep) -> OrgPublic:
    principal.require(OrgKind.ADMIN)
    org = await create_organisation(session, body.name, body.kind.value)
    return _org_public(org)


@router.patch("/{org_id}", response_model=OrgPublic)
async def update_org(
    org_id: str, body: OrgUpdate, principal: PrincipalDep, session: SessionDep
) -> OrgPublic:
    """Rename an organisation or change its slug (its return portal moves to
    `/returns/{slug}`; the old address answers 404), its customers' default locale and
    time zone, or its paper size. The admin, or the organisation's own
    key; another organisation's is a 404. A slug another organisation holds is a 409
    `slug_taken`."""
    if principal.kind is not OrgKind.ADMIN and principal.org_id != org_id:
        raise not_found("organisation")
    org = await organisation(session, org_id)
    if org is None:
        raise not_found("organisation")
    changed = await change_organisation(
        session,
        org,
        name=body.name,
        slug=body.slug,
        default_locale=body.default_locale,
        default_time_zone=body.default_time_zone,
        paper_size=body.paper_size,
    )
    if not changed:
        raise Problem(409, "slug_taken", f"the slug {body.slug!r} is taken", slug=body.slug)
    return _org_public(org)


def _org_public(org: models.Organisation) -> OrgPublic:
    return OrgPublic(
        id=org.id,
        name=org.name,
        kind=OrgKind(org.kind),
        slug=org.slug,
        default_locale=org.default_locale,
        default_time_zone=org.default_time_zone,
        paper_size="A4" if org.paper_size == "A4" else "Letter",
    )


@router.post("/{org_id}/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyPublic)
async def create_api_key(org_id: str, principal: PrincipalDep, session: SessionDep) -> ApiKeyPublic:
    principal.require(OrgKind.ADMIN)
    org = await organisation(session, org_id)
    if org is None:
        raise not_found("organisation")
    key = new_key()
    record = await api_keys.add(session, org.id, hash_key(key), key[:12])
    return ApiKeyPublic(id=record.id, key=key, org_id=org.id)


@router.get("/{org_id}/api-keys", response_model=list[ApiKeyInfo])
async def list_api_keys(
    org_id: str, principal: PrincipalDep, session: SessionDep
) -> list[ApiKeyInfo]:
    """Every key of the organisation, revoked ones included, oldest first."""
    principal.require(OrgKind.ADMIN)
    if await organisation(session, org_id) is None:
        raise not_found("organisation")
    return [
        ApiKeyInfo(
            id=row.id,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )
        for row in await api_keys.all_of(session, org_id)
    ]


@router.delete("/{org_id}/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    org_id: str, key_id: str, principal: PrincipalDep, session: SessionDep, res: ResourcesDep
) -> Response:
    """Revoke a key: it answers 401 from the next request on. Revoking twice keeps the
    first time."""
    principal.require(OrgKind.ADMIN)
    if not await api_keys.revoke(session, org_id, key_id):
        raise not_found("API key")
    # This process forgets it now; other API processes within `auth.KEY_CACHE_SECONDS`.
    res.keys.forget(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
