"""Organisations and their API keys (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api import idempotency
from api.auth import OrgKind, hash_key, new_key
from api.commands import answer_once, setup_command_key
from api.deps import PrincipalDep, ResourcesDep, SessionDep
from api.errors import Problem, not_found
from api.idempotency import IdempotencyKey
from api.schemas.setup import ApiKeyInfo, ApiKeyPublic, OrgCreate, OrgPublic, OrgUpdate
from db import api_keys, models
from db.organisations import change_organisation, create_organisation, organisation

router = APIRouter(prefix="/v1/orgs", tags=["setup"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrgPublic)
async def create_org(
    body: OrgCreate,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> OrgPublic:
    """A new organisation. The same `Idempotency-Key` and body answer the organisation the
    first request made (as it is now); another body is 409 `idempotency_conflict`."""
    principal.require(OrgKind.ADMIN)
    if idempotency_key is None:
        made = await create_organisation(session, body.name, body.kind.value)
        assert made is not None  # no id asked for, so none taken
        return _org_public(made)
    # The bootstrap admin has no organisation to file the key under: the key names the new
    # organisation's id instead (a digest of the caller and the key), and its record is
    # filed under that organisation, written in the same transaction.
    key = setup_command_key(idempotency_key, principal, "create_org", body, org_id="")
    assert key is not None
    org_id = key.record_key.removeprefix("cmd:")[:32]

    async def claim(made_id: str) -> None:
        await idempotency.reserve(
            session, made_id, key.record_key, key.request_hash, "organisation", made_id
        )

    first = await organisation(session, org_id)
    if first is None:
        made = await create_organisation(
            session, body.name, body.kind.value, org_id=org_id, claim=claim
        )
        if made is not None:
            return _org_public(made)
        first = await organisation(session, org_id)  # a concurrent request with the key made it
        assert first is not None
    # Raises idempotency_conflict for another body; adds nothing, the record being there.
    await idempotency.reserve(
        session, org_id, key.record_key, key.request_hash, "organisation", org_id
    )
    return _org_public(first)


@router.patch("/{org_id}", response_model=OrgPublic)
async def update_org(
    org_id: str,
    body: OrgUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> OrgPublic:
    """Rename an organisation or change its slug (its return portal moves to
    `/returns/{slug}`; the old address answers 404), its customers' default locale and
    time zone, or its paper size. The admin, or the organisation's own
    key; another organisation's is a 404. A slug another organisation holds is a 409
    `slug_taken`. A retry with the same `Idempotency-Key` gets the first answer and changes
    nothing (a change made since stays)."""
    if principal.kind is not OrgKind.ADMIN and principal.org_id != org_id:
        raise not_found("organisation")
    org = await organisation(session, org_id)
    if org is None:
        raise not_found("organisation")
    key = setup_command_key(
        idempotency_key,
        principal,
        "update_org",
        {"org_id": org_id, **body.model_dump(mode="json", exclude_unset=True)},
        org_id=org_id,
    )

    async def change() -> OrgPublic:
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

    return await answer_once(session, key, OrgPublic, change)


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
async def create_api_key(
    org_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> ApiKeyPublic:
    """A new key, shown in this answer only (stored as its hash). With an `Idempotency-Key`
    the key's id is reserved under it, so a retry makes no second key; but the key itself
    cannot be shown again, so the retry is a 409 `conflict` naming the key's `api_key_id`
    (revoke it and make another if the first answer was lost)."""
    principal.require(OrgKind.ADMIN)
    org = await organisation(session, org_id)
    if org is None:
        raise not_found("organisation")
    key_id = models.new_id()
    command = setup_command_key(
        idempotency_key, principal, "create_api_key", {"org_id": org_id}, org_id=org_id
    )
    if command is not None:
        key_id = await idempotency.claim(
            session, org.id, command.record_key, command.request_hash, "api_key", key_id
        )
        if await session.get(models.ApiKey, key_id) is not None:
            raise _shown_once(key_id)
    key = new_key()
    record = await api_keys.add(session, org.id, hash_key(key), key[:12], key_id)
    if record is None:  # a concurrent request with the same Idempotency-Key made it
        raise _shown_once(key_id)
    return ApiKeyPublic(id=record.id, key=key, org_id=org.id)


def _shown_once(key_id: str) -> Problem:
    return Problem(
        409,
        "conflict",
        f"this Idempotency-Key made the API key {key_id}, which was shown once, to the first "
        "request, and is stored only as its hash; revoke it and make another if that answer "
        "was lost",
        api_key_id=key_id,
    )


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
