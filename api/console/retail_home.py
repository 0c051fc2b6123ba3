"""A retailer's home page: what waits on people, each count linking to its list. The
counts are one statement (`retail_queries.waiting`). Other users get the console's own
home page (`home_page`), unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.auth import OrgKind
from api.console import home_page
from api.console.render import render
from api.console.retail_queries import Queue, waiting
from api.console.session import ConsoleUserDep
from api.deps import SessionDep
from db.organisations import organisation

router = APIRouter()


@dataclass(frozen=True)
class Tile:
    count: int
    label: str
    href: str


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    if user.org_kind is not OrgKind.RETAILER:
        return await home_page.home(request, user, session)
    counts = await waiting(session, user.org_id)
    org = await organisation(session, user.org_id)
    tiles = [
        Tile(
            counts.pending_review, "RMAs waiting for review", "/console/rmas?status=pending_review"
        ),
        Tile(
            counts.delivered_not_received,
            "Parcels delivered, not received",
            f"/console/rmas?queue={Queue.DELIVERED.value}",
        ),
        Tile(
            counts.received_not_inspected,
            "Received, not inspected",
            "/console/rmas?status=received",
        ),
        Tile(
            counts.claims,
            "Service-plan claims in progress",
            f"/console/repairs?queue={Queue.CLAIMS.value}",
        ),
        Tile(
            counts.failed_deliveries, "Failed webhook deliveries", "/console/webhooks?status=failed"
        ),
        Tile(
            counts.sla_breaches,
            "Repairs past their SLA",
            f"/console/repairs?queue={Queue.SLA_BREACHED.value}",
        ),
        Tile(counts.follow_ups, "Low ratings to follow up", "/console/feedback?waiting=1"),
    ]
    return render(
        request,
        "retail/home.html",
        user,
        org_name=org.name if org else "",
        tiles=tiles,
        waiting_total=sum(t.count for t in tiles),
    )
