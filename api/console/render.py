"""Console pages: one Jinja2 environment over `api/console/templates/` and `render()`.

Every page has the signed-in user, the CSRF field, the request and the navigation of the
user's role in its context, and goes out with a strict CSP (scripts and styles from
/console/static only) and no-store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.auth import OrgKind
from api.console.csrf import csrf_field, csrf_token, set_login_cookie
from api.console.session import ConsoleUser, Role

TEMPLATES = Path(__file__).resolve().parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str
    kinds: tuple[OrgKind, ...]
    roles: tuple[Role, ...] = ("owner", "staff", "technician")


# The console's navigation, in order; each page module's owner adds its links here.
NAV_LINKS: list[NavLink] = [
    NavLink("/console/", "Home", (OrgKind.RETAILER, OrgKind.REPAIR_CENTER)),
]


def nav_for(user: ConsoleUser | None) -> list[NavLink]:
    if user is None:
        return []
    return [link for link in NAV_LINKS if user.org_kind in link.kinds and user.role in link.roles]


def render(
    request: Request,
    template_name: str,
    user: ConsoleUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page `template_name` for `user` (None on the sign-in page)."""
    page = env.get_template(template_name).render(
        request=request,
        user=user,
        csrf_field=csrf_field(request),
        csrf_token=csrf_token(request),
        nav=nav_for(user),
        current_path=request.url.path,
        **context,
    )
    response = HTMLResponse(page, status_code=status_code, headers=SECURITY_HEADERS)
    set_login_cookie(request, response, request.app.state.resources.settings)
    return response
