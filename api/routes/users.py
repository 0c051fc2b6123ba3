"""An organisation's console users: `POST`/`GET /v1/orgs/{org_id}/users`, and
`DELETE /v1/orgs/{org_id}/users/{user_id}` to disable one (their sessions end at once).

Who: the admin key, or the organisation's own API key standing in for its owner (an owner
signed in to the console acts through the console's pages, not this JSON API). Another
organisation's users are a 404, as is an organisation the caller is not."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api import idempotency
from api.auth import OrgKind, Principal
from api.commands import fingerprinted, setup_command_key
from api.console.accounts import create_user
from api.console.passwords import PasswordsDep
from api.deps import AsyncSession, PrincipalDep, SecretBoxDep, SessionDep
from api.errors import Problem, not_found
from api.idempotency import IdempotencyKey
from api.schemas.users import UserCreate, UserInfo, UserPublic
from db import console_users, models
from db.organisations import organisation

router = APIRouter(prefix="/v1/orgs", tags=["setup"])


async def _org_for(principal: Principal, session: SessionDep, org_id: str) -> models.Organisation:
    if principal.kind is not OrgKind.ADMIN and principal.org_id != org_id:
        raise not_found("organisation")
    org = await organisation(session, org_id)
    if org is None:
        raise not_found("organisation")
    return org


@router.post("/{org_id}/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def add_user(
    org_id: str,
    body: UserCreate,
    principal: PrincipalDep,
    session: SessionDep,
    box: SecretBoxDep,
    hasher: PasswordsDep,
    idempotency_key: IdempotencyKey = None,
) -> UserPublic:
    """A user who signs in to the console with `email` and `password` (stored as an argon2
    hash, never returned). The same `Idempotency-Key` and body answer the user the first
    request made; the key's record holds the password only as a keyed fingerprint."""
    org = await _org_for(principal, session, org_id)
    # Read now: a refused insert rolls the session back, which expires `org`, and reading
    # an expired attribute would be a lazy load the async session cannot do (a 500).
    owner = org.id
    user_id = models.new_id()
    key = setup_command_key(
        idempotency_key,
        principal,
        "add_user",
        {"org_id": org_id, **fingerprinted(body, box, "password")},
        org_id=org.id,
    )
    if key is not None:
        user_id = await idempotency.claim(
            session, org.id, key.record_key, key.request_hash, "user", user_id
        )
        if (first := await _made(session, org.id, user_id)) is not None:
            return _user_public(first)
    try:
        user = await create_user(session, org, body, hasher, user_id)
    except Problem as refused:
        # A concurrent request with the same key may have made the user under this id.
        if key is None or refused.code != "email_taken":
            raise
        made = await _made(session, owner, user_id)
        if made is None:
            raise
        user = made
    return _user_public(user)


async def _made(session: AsyncSession, org_id: str, user_id: str) -> models.User | None:
    user = await session.get(models.User, user_id, populate_existing=True)
    return user if user is not None and user.org_id == org_id else None


def _user_public(user: models.User) -> UserPublic:
    return UserPublic(id=user.id, email=user.email, name=user.name, role=user.role)


@router.get("/{org_id}/users", response_model=list[UserInfo])
async def list_users(org_id: str, principal: PrincipalDep, session: SessionDep) -> list[UserInfo]:
    """Every user of the organisation, disabled ones included, oldest first."""
    await _org_for(principal, session, org_id)
    return [
        UserInfo(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
        )
        for user in await console_users.users_of(session, org_id)
    ]


@router.delete("/{org_id}/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def disable_user(
    org_id: str, user_id: str, principal: PrincipalDep, session: SessionDep
) -> Response:
    """Disable a user: they sign in no more and every session of theirs ends now. Their name
    stays on the timelines of what they did."""
    await _org_for(principal, session, org_id)
    if not await console_users.disable_user(session, org_id, user_id):
        raise not_found("user")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
