"""The retailer staff console: its home page of what waits on people, the lists and pages
of every case type, and the forms of the retailer's setup (stock, plan catalog, webhooks,
repair network). One router, included by `api.console.routes`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.auth import OrgKind
from api.console import (
    retail_case,
    retail_feedback,
    retail_home,
    retail_lists,
    retail_new,
    retail_setup,
)
from api.console.render import NAV_LINKS, NavLink
from api.console.retail_kinds import KINDS

router = APIRouter()
router.include_router(retail_home.router)
# Before the case pages: `/rmas/new` is a form, not a case named "new".
router.include_router(retail_new.router)
router.include_router(retail_lists.router)
router.include_router(retail_case.router)
router.include_router(retail_setup.router)
router.include_router(retail_feedback.router)

_RETAIL = (OrgKind.RETAILER,)
_STAFF: tuple[Literal["owner", "staff"], ...] = ("owner", "staff")
NAV_LINKS.extend(
    [
        *(NavLink(f"/console/{kind.path}", kind.title, _RETAIL, _STAFF) for kind in KINDS),
        NavLink("/console/feedback", "Feedback", _RETAIL, _STAFF),
        NavLink("/console/inventory", "Stock", _RETAIL, _STAFF),
        NavLink("/console/plans", "Plan catalog", _RETAIL, _STAFF),
        NavLink("/console/webhooks", "Webhooks", _RETAIL, _STAFF),
        NavLink("/console/repair-network", "Repair network", _RETAIL, _STAFF),
    ]
)
