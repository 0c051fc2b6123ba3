"""Making console users, for the API (`/v1/orgs/{org_id}/users`) and the CLI alike."""

from __future__ import annotations

from api.auth import OrgKind
from api.console.passwords import Passwords, passwords
from api.console.session import ROLES_BY_KIND
from api.deps import AsyncSession
from api.errors import Problem
from api.schemas.users import UserCreate
from db import console_users, models
from settings import Settings


async def create_user(
    session: AsyncSession,
    org: models.Organisation,
    body: UserCreate,
    hasher: Passwords,
    user_id: str | None = None,
) -> models.User:
    """A new user of `org` (under `user_id` when given); 422 `invalid_role` for a role that
    organisation's kind has not, 409 `email_taken` for an email someone (of any
    organisation) signs in with already."""
    roles = ROLES_BY_KIND.get(OrgKind(org.kind), ())
    if body.role not in roles:
        raise Problem(
            422,
            "invalid_role",
            f"a {org.kind} has no {body.role!r} users; one of: {', '.join(roles) or 'none'}",
            allowed=list(roles),
        )
    password_hash = await hasher.hash(body.password)
    try:
        return await console_users.add_user(
            session, org.id, body.email, body.name, body.role, password_hash, user_id
        )
    except console_users.EmailTaken:
        raise Problem(409, "email_taken", "a user with this email exists already") from None


async def create_user_from_shell(
    settings: Settings, org_ref: str, email: str, name: str, role: str, password: str
) -> tuple[int, str]:
    """`aftersales users create`: the exit status and what to print (never the password).
    `org_ref` is the organisation's id or its (unambiguous) name."""
    from pydantic import ValidationError

    from db.session import make_engine, make_sessionmaker

    try:
        body = UserCreate(email=email, name=name, role=role, password=password)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return 2, f"refused: {fields}"
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            orgs = await console_users.organisations_by_ref(session, org_ref)
            if len(orgs) != 1:
                found = "no" if not orgs else "more than one"
                return 1, f"{found} organisation {org_ref!r} (give its id)"
            try:
                hasher = passwords(settings.password_hashing)
                user = await create_user(session, orgs[0], body, hasher)
            except Problem as problem:
                return 1, f"refused: {problem.detail}"
            return 0, f"user {user.id} {user.email} ({user.role} of {orgs[0].name})"
    finally:
        await engine.dispose()
