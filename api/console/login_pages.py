"""Signing in to the console and out of it: `GET/POST /console/login`, `POST /console/logout`.

A wrong password, an unknown email and a disabled user get the same page, status and
(through a dummy hash) the same work. Failures are throttled per email and per client
address (`throttle`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console import throttle
from api.console.csrf import LOGIN_COOKIE, CsrfDep
from api.console.passwords import PasswordsDep
from api.console.render import render
from api.console.session import (
    COOKIE_PATH,
    SESSION_COOKIE,
    clear_session_cookie,
    new_session_cookie,
    session_hash,
    set_session_cookie,
)
from api.deps import ResourcesDep, SessionDep
from api.schemas.common import NO_CONTROL, column_length
from db import console_users, models
from db.types import utcnow

router = APIRouter()

HOME = "/console/"
WRONG = "The email or password is not right."
REFUSED = "Too many failed sign-ins. Wait a few minutes, then try again."
SIGNED_OUT = "You have signed out."
EMAIL_MAX = column_length(models.User.email)
PASSWORD_MAX = 200
NEXT_MAX = 2000


def safe_next(value: str | None) -> str:
    """Only a console path of this site: never another site (`//evil`, `/\\evil`, a scheme)."""
    if (
        not value
        or len(value) > NEXT_MAX
        or not value.startswith("/console")
        or value.startswith("//")
        or "\\" in value
        or NO_CONTROL.found.search(value)
    ):
        return HOME
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next: str | None = None, signed_out: bool = False
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        None,
        next=safe_next(next),
        email="",
        error=None,
        notice=SIGNED_OUT if signed_out else None,
    )


@router.post("/login", response_model=None)
async def login(
    request: Request,
    res: ResourcesDep,
    session: SessionDep,
    hasher: PasswordsDep,
    _csrf: CsrfDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,
) -> Response:
    email = email.strip().lower()
    target = safe_next(next)

    def again(status: int, error: str) -> HTMLResponse:
        shown = email if len(email) <= EMAIL_MAX and not NO_CONTROL.found.search(email) else ""
        page = render(
            request, "login.html", None, status, next=target, email=shown, error=error, notice=None
        )
        if status == 429:
            page.headers["Retry-After"] = str(int(throttle.WINDOW.total_seconds()))
        return page

    subjects = throttle.Subjects.of(email[:EMAIL_MAX], client_address(request))
    if not await throttle.admit(session, subjects):
        return again(429, REFUSED)
    # Anything no account can have (PostgreSQL cannot even compare a NUL) is just wrong.
    plausible = (
        0 < len(email) <= EMAIL_MAX
        and 0 < len(password) <= PASSWORD_MAX
        and not NO_CONTROL.found.search(email)
    )
    user = await console_users.user_by_email(session, email) if plausible else None
    # Verified (against a dummy hash when there is no such user) whatever else is wrong.
    verified = await hasher.verify(user.password_hash if user else None, password[:PASSWORD_MAX])
    if user is None or not verified:
        await throttle.failed(session, subjects)
        return again(401, WRONG)
    await throttle.succeeded(session, subjects)

    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        # A sign-in never carries on a session the browser had before (fixation).
        await console_users.revoke_session(session, session_hash(previous))
    cookie = new_session_cookie()
    await console_users.add_session(
        session, session_hash(cookie), user.id, utcnow() + res.settings.console_session_max
    )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, cookie, res.settings)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
async def logout(
    request: Request, res: ResourcesDep, session: SessionDep, _csrf: CsrfDep
) -> RedirectResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await console_users.revoke_session(session, session_hash(cookie))
    response = RedirectResponse("/console/login?signed_out=true", status_code=303)
    clear_session_cookie(response, res.settings)
    return response
