"""One open case per unit under concurrency, end to end on SQLite and PostgreSQL: twenty
RMAs for one serial sent at once authorize exactly one; once it closes the unit may have
its next case."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from tests.api.test_rma_e2e import new_retailer, rma_body, wait_until, with_label
from tests.support import Stack

AT_ONCE = 20


async def test_twenty_rmas_for_one_serial_at_once_authorize_one(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    serial = f"SN-{uuid.uuid4().hex[:8]}"
    async with stack.http(retailer.key) as http:
        # Different order refs and keys: twenty distinct requests, not retries of one.
        answers = await asyncio.gather(
            *(
                http.post(
                    "/v1/rmas",
                    json=rma_body(sku, serial=serial),
                    headers={"Idempotency-Key": f"rma-{n}-{uuid.uuid4().hex[:6]}"},
                )
                for n in range(AT_ONCE)
            )
        )
        assert [a.status_code for a in answers] == [201] * AT_ONCE, [a.text for a in answers]
        bodies = [a.json() for a in answers]
        assert len({b["id"] for b in bodies}) == AT_ONCE
        decided = Counter((b["status"], b["reason"]) for b in bodies)
        assert decided == {
            ("awaiting_return", None): 1,
            ("rejected", "duplicate_open_case"): AT_ONCE - 1,
        }, decided
        # The read model agrees: one open RMA for the unit.
        listed = (await http.get("/v1/rmas", params={"limit": 200})).json()["items"]
        open_ones = [r for r in listed if r["status"] == "awaiting_return"]
        assert len(open_ones) == 1

        # While it is open, another RMA for the unit is still refused ...
        again = (await http.post("/v1/rmas", json=rma_body(sku, serial=serial))).json()
        assert (again["status"], again["reason"]) == ("rejected", "duplicate_open_case")
        # ... and once it is closed, the unit may have its next case.
        winner = open_ones[0]["id"]
        await wait_until(http, winner, with_label)
        cancelled = await http.post(f"/v1/rmas/{winner}/cancel", json={"reason": "mistake"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        after = await http.post("/v1/rmas", json=rma_body(sku, serial=serial))
        assert after.status_code == 201, after.text
        assert (after.json()["status"], after.json()["reason"]) == ("awaiting_return", None)
