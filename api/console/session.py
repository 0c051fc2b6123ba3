"""Who is signed in to the console: the session cookie, its row, and the `ConsoleUser`.

The cookie holds 256 random bits; the database keeps only their SHA-256, so a copy of the
table signs no one in. A session ends when its user signs out, after
`console_session_idle` unused, `console_session_max` after it began, or when its user is
disabled."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, Request, Response

from api.auth import OrgKind, Principal
from api.deps import ResourcesDep, SessionDep
from db import console_users
from db.types import utcnow
from settings import Settings

SESSION_COOKIE = "aftersales_console"
COOKIE_PATH = "/console"

Role = Literal["owner", "staff", "technician"]
ROLES_BY_KIND: dict[OrgKind, tuple[Role, ...]] = {
    OrgKind.RETAILER: ("owner", "staff"),
    OrgKind.REPAIR_CENTER: ("owner", "technician"),
}

# `last_seen` is written at most this often per session: enough for the idle timeout, and
# spares a write on every page.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class ConsoleUser:
    user_id: str
    org_id: str
    org_kind: OrgKind
    name: str
    email: str
    role: Role

    def principal(self) -> Principal:
        """The organisation's principal, carrying the user's name to the timeline."""
        return Principal(self.org_kind, self.org_id, user=self.name)


class SignInRequired(Exception):
    """No live session: the console answers 303 to the sign-in page, which comes back here."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to

    def location(self) -> str:
        return f"/console/login?next={quote(self.back_to, safe='/')}"


class RoleRefused(Exception):
    """A signed-in user whose role may not open that page (answered 403 with a page)."""

    def __init__(self, user: ConsoleUser) -> None:
        super().__init__(user.role)
        self.user = user


def session_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def new_session_cookie() -> str:
    return secrets.token_urlsafe(32)


def secure_cookies(settings: Settings) -> bool:
    """Cookies go over HTTPS only, except where the console is served over plain HTTP on
    this machine (development and tests)."""
    return settings.env not in ("development", "test")


def set_session_cookie(response: Response, cookie: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(settings.console_session_max.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        secure=secure_cookies(settings),
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        secure=secure_cookies(settings),
        samesite="lax",
    )


def back_to(request: Request) -> str:
    """Where the sign-in page returns to: this page (a GET), else the console's home."""
    if request.method != "GET":
        return "/console/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def console_user(request: Request, res: ResourcesDep, session: SessionDep) -> ConsoleUser:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise SignInRequired(back_to(request))
    now = utcnow()
    key = session_hash(cookie)
    live = await console_users.live_session(session, key, res.settings.console_session_idle, now)
    if live is None:
        raise SignInRequired(back_to(request))
    if now - live.last_seen >= TOUCH_EVERY:
        await console_users.touch_session(session, key, now)
    row = live.user
    user = ConsoleUser(
        user_id=row.id,
        org_id=row.org_id,
        org_kind=OrgKind(live.org_kind),
        name=row.name,
        email=row.email,
        role=row.role,  # type: ignore[arg-type]  # the table's check constraint holds it
    )
    request.state.console_user = user
    return user


ConsoleUserDep = Annotated[ConsoleUser, Depends(console_user)]


def require_role(*roles: Role) -> Any:
    """A dependency (`Depends(require_role("owner"))` or in a route's `dependencies=`) that
    lets only users of those roles in; others see a 403 page."""

    async def _allowed(user: ConsoleUserDep) -> ConsoleUser:
        if user.role not in roles:
            raise RoleRefused(user)
        return user

    return Depends(_allowed)
