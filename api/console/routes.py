"""The console's router (every page module's router, included once each) and its wiring
into the app: the static files and what a console refusal looks like."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.console import home_page, insights_pages, login_pages, retail_pages, technician_pages
from api.console.render import render
from api.console.session import RoleRefused, SignInRequired

STATIC = Path(__file__).resolve().parent / "static"

router = APIRouter(prefix="/console", include_in_schema=False)
router.include_router(login_pages.router)
# Before home_page: a retailer's home is the retail console's (others fall through to it).
router.include_router(retail_pages.router)
router.include_router(home_page.router)
router.include_router(technician_pages.router)
router.include_router(insights_pages.router)


def install(app: FastAPI) -> None:
    """Add the console to `app`: its pages, its static files, its refusals."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("HX-Request"):
            # htmx would swap the sign-in page into a fragment: have it load the page instead.
            return Response(status_code=204, headers={"HX-Redirect": exc.location()})
        return RedirectResponse(exc.location(), status_code=303)

    @app.exception_handler(RoleRefused)
    async def _role(request: Request, exc: RoleRefused) -> HTMLResponse:
        reason = f"Your role ({exc.user.role}) may not open this page."
        return render(request, "refused.html", exc.user, 403, reason=reason)
