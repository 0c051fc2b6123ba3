"""CSRF tokens for every console form, bound to the browser's session.

A token is an HMAC of the session cookie's value (before sign-in, of a random pre-session
cookie the sign-in page sets): the server needs to store nothing, and another site, which
can make the browser send the cookie but cannot read it, cannot make the token. Every
console POST declares `CsrfDep`; htmx requests may send the token as `X-CSRF-Token`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response
from markupsafe import Markup, escape

from api.console.session import COOKIE_PATH, SESSION_COOKIE, secure_cookies
from api.errors import Problem
from settings import Settings

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "aftersales_console_login"


def _seed(request: Request) -> str | None:
    seed: str | None = getattr(request.state, "console_new_login_seed", None)
    return seed or request.cookies.get(SESSION_COOKIE) or request.cookies.get(LOGIN_COOKIE)


def _token_for(seed: str) -> str:
    return hmac.new(seed.encode(), b"aftersales console csrf", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """This browser's token; a browser with neither cookie gets a pre-session cookie made
    now (`render` sets it on the answer)."""
    seed = _seed(request)
    if seed is None:
        seed = secrets.token_urlsafe(32)
        request.state.console_new_login_seed = seed
    return _token_for(seed)


def csrf_field(request: Request) -> Markup:
    """The hidden input every console form carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        FIELD, escape(csrf_token(request))
    )


def set_login_cookie(request: Request, response: Response, settings: Settings) -> None:
    """Hand the browser the pre-session cookie a token was just made from, if one was."""
    seed = getattr(request.state, "console_new_login_seed", None)
    if seed is None:
        return
    response.set_cookie(
        LOGIN_COOKIE,
        seed,
        path=COOKIE_PATH,
        httponly=True,
        secure=secure_cookies(settings),
        samesite="lax",
    )


def csrf_failed() -> Problem:
    return Problem(403, "csrf_failed", "the form's CSRF token is missing or wrong; reload the page")


async def check_csrf(request: Request) -> None:
    seed = request.cookies.get(SESSION_COOKIE) or request.cookies.get(LOGIN_COOKIE)
    sent = request.headers.get(HEADER)
    if sent is None:
        # Starlette keeps the parsed form, so the route's own Form fields read it again free.
        form = await request.form()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not seed or not sent or not hmac.compare_digest(sent, _token_for(seed)):
        raise csrf_failed()


CsrfDep = Annotated[None, Depends(check_csrf)]
