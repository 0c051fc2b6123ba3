"""The console's home page: who is signed in, for which organisation, and where to go."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console.render import render
from api.console.session import ConsoleUserDep
from api.deps import SessionDep
from db.organisations import organisation

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    org = await organisation(session, user.org_id)
    return render(request, "home.html", user, org_name=org.name if org else "")
