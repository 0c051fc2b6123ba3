"""Request and result of the routing activity (activities/routing.py)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.repair import AssignedCenter


@dataclass
class RouteRequest:
    category: str
    country: str
    # The retailer whose job it is: its repair network, when set, limits the choice. Empty
    # in requests scheduled before networks existed (those choose among every center).
    org_id: str = ""


@dataclass
class RouteResult:
    """The chosen center, or None: no center fits and the job is `unroutable`."""

    center: AssignedCenter | None = None
