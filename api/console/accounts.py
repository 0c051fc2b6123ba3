"""Making console users, for the API (`/v1/orgs/{org_id}/users`) and the CLI alike."""

from __future__ import annotations

from api.auth import OrgKind
from api.console.passwords import hash_password
from api.console.session import ROLES_BY_KIND
from api.deps import AsyncSession
from api.errors import Problem
from api.schemas.users import UserCreate
from db import console_users, models


async def create_user(
    session: AsyncSession, org: models.Organisation, body: UserCreate
) -> models.User:
    """A new user of `org`; 422 `invalid_role` for a role that organisation's kind has not,
    409 `email_taken` for an email someone (of any organisation) signs in with already."""
    roles = ROLES_BY_KIND.get(OrgKind(org.kind), ())
    if body.role not in roles:
        raise Problem(
            422,
            "invalid_role",
            f"a {org.kind} has no {body.role!r} users; one of: {', '.join(roles) or 'none'}",
            allowed=list(roles),
        )
    password_hash = await hash_password(body.password)
    try:
        return await console_users.add_user(
            session, org.id, body.email, body.name, body.role, password_hash
        )
    except console_users.EmailTaken:
        raise Problem(409, "email_taken", "a user with this email exists already") from None
