"""Choosing the repair center a unit goes to: the routing rule of lifecycles.md §2, asked of
the read model (the centers, their networks and open jobs) by the case that needs it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import RoutingActivities
    from domain.contracts.routing import RouteRequest
    from domain.repair import AssignedCenter
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT


async def route_repair(category: str, country: str, org_id: str) -> AssignedCenter | None:
    """The center for a unit of `category` in `country`, within the retailer's repair
    network; None when no center fits (the job is `unroutable`)."""
    routed = await workflow.execute_local_activity_method(
        RoutingActivities.route_repair,
        RouteRequest(category=category, country=country, org_id=org_id),
        start_to_close_timeout=QUICK_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )
    return routed.center
