"""A unit of stock held for a case: reserved atomically per SKU (the database refuses to
oversell), then consumed when the unit ships or released when it will not.

    self.stock = Reservation(start.org_id, start.replacement_sku, start.replacement_id)
    if not await self.stock.reserve():
        ...  # backordered
    await self.stock.consume()  # the unit leaves the warehouse

A case holds at most one reservation, under `reservation_key(workflow id)`: the API reserves
under the same key when stock arrives for a backorder, so the case's own attempt finds it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import InventoryActivities
    from domain.contracts.inventory import ReserveRequest, SettleRequest
    from domain.replacement import reservation_key
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT


class Reservation:
    """The one unit of `sku` a case reserves, and whether it holds it now."""

    def __init__(self, org_id: str, sku: str, case_id: str) -> None:
        self.org_id = org_id
        self.sku = sku
        self.case_id = case_id
        self.held = False

    async def reserve(self) -> bool:
        """Reserve a unit now; True once held, False when the SKU is out of stock."""
        result = await workflow.execute_local_activity_method(
            InventoryActivities.reserve_stock,
            ReserveRequest(key=_key(), org_id=self.org_id, sku=self.sku, case_id=self.case_id),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.held = bool(result.reserved)
        return self.held

    async def release(self, *, force: bool = False) -> None:
        """Give the unit back to stock. `force`: even if this case does not know it holds
        one (the API may have reserved for it as a deadline fell or a cancel came in)."""
        if not (self.held or force):
            return
        await workflow.execute_local_activity_method(
            InventoryActivities.release_stock,
            SettleRequest(_key()),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.held = False

    async def consume(self) -> None:
        """The unit leaves the warehouse: the reservation becomes a sale."""
        await workflow.execute_local_activity_method(
            InventoryActivities.consume_stock,
            SettleRequest(_key()),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        self.held = False


def _key() -> str:
    return reservation_key(workflow.info().workflow_id)
