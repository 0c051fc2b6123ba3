"""A retailer's repair network over HTTP: set, read back, refused when it names what is not
a repair center, and obeyed by routing (direct repairs and RMAs resolved by repair)."""

from __future__ import annotations

import uuid

from tests.api.helpers import add_product, make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_repair_e2e import new_center, repair_body
from tests.support import Stack


async def test_routing_keeps_to_the_retailers_network(stack: Stack) -> None:
    """Two equal centers: routing sends each job to the less loaded one (ties to the smaller
    id), so every step below would go elsewhere without the network, or with it kept."""
    retailer = await make_org(stack, "retailer")
    category = f"net-{uuid.uuid4().hex[:6]}"
    product = await add_product(stack, retailer, category=category)
    centers = [await new_center(stack, category, daily_capacity=10) for _ in range(2)]
    low, high = sorted(center.id for center in centers)
    async with stack.http(retailer.key) as shop:
        assert (await shop.get("/v1/repair-network")).json() == {"centers": []}
        before = await shop.post("/v1/repairs", json=repair_body(product["sku"]))
        assert before.status_code == 201, before.text
        assert before.json()["assigned_center"] == low  # a tie: the smaller id

        # `low` now holds a job, so without a network the next one would go to `high`.
        put = await shop.put("/v1/repair-network", json={"centers": [low]})
        assert put.status_code == 200, put.text
        assert put.json() == {"centers": [low]}
        assert (await shop.get("/v1/repair-network")).json() == {"centers": [low]}
        direct = await shop.post("/v1/repairs", json=repair_body(product["sku"]))
        assert direct.status_code == 201, direct.text
        assert direct.json()["assigned_center"] == low

        # Another retailer without a network still routes among every center.
        other = await make_org(stack, "retailer")
        other_product = await add_product(stack, other, category=category)
        async with stack.http(other.key) as other_shop:
            assert (await other_shop.get("/v1/repair-network")).json() == {"centers": []}
            theirs = await other_shop.post("/v1/repairs", json=repair_body(other_product["sku"]))
            assert theirs.status_code == 201, theirs.text
            assert theirs.json()["assigned_center"] == high

        # Cleared: every center again (`low` holds two jobs, `high` one).
        cleared = await shop.put("/v1/repair-network", json={"centers": []})
        assert cleared.status_code == 200 and cleared.json() == {"centers": []}
        after = await shop.post("/v1/repairs", json=repair_body(product["sku"]))
        assert after.json()["assigned_center"] == high


async def test_a_network_naming_what_is_not_a_repair_center_is_refused(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    other_retailer = await make_org(stack, "retailer")
    center = await new_center(stack, f"net-{uuid.uuid4().hex[:6]}")
    async with stack.http(retailer.key) as shop:
        assert (
            await shop.put("/v1/repair-network", json={"centers": [center.id, center.id]})
        ).json() == {"centers": [center.id]}
        refusals = [
            (["no-such-org"], "unknown_repair_center"),
            ([center.id, other_retailer.id], "unknown_repair_center"),
            (["x" * 33], "validation_error"),
            (["a\x00b"], "validation_error"),
        ]
        for centers, code in refusals:
            refused = await shop.put("/v1/repair-network", json={"centers": centers})
            assert_problem(refused, 422, code)
        # Nothing refused was written.
        assert (await shop.get("/v1/repair-network")).json() == {"centers": [center.id]}
    async with stack.http(center.key) as bench:
        assert_problem(await bench.get("/v1/repair-network"), 403, "forbidden")
        assert_problem(
            await bench.put("/v1/repair-network", json={"centers": [center.id]}), 403, "forbidden"
        )
