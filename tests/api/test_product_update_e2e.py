"""PUT /v1/products/{sku}: a retailer replaces a product's description, weight and size
included; the views show them; bad sizes are 422; another retailer's SKU is a 404."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import add_product, make_org
from tests.api.test_foundation import assert_problem
from tests.support import Stack


def _update(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Speaker, boxed",
        "category": "audio",
        "unit_price": "149.50",
        "warranty_months": 24,
        "weight_grams": 2350,
        "dimensions_cm": {"length": 40, "width": 25.5, "height": 18.2},
        **changes,
    }


async def test_a_product_is_updated_with_its_parcel_and_shown_with_it(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    created = await add_product(stack, shop)
    # Created without them: unknown until the retailer says.
    assert created["weight_grams"] is None and created["dimensions_cm"] is None
    sku = created["sku"]
    async with stack.http(shop.key) as http:
        updated = await http.put(f"/v1/products/{sku}", json=_update())
        assert updated.status_code == 200, updated.text
        body = updated.json()
        assert body["id"] == created["id"] and body["sku"] == sku
        assert body["name"] == "Speaker, boxed"
        assert body["unit_price"] == {"amount": "149.50", "currency": "USD"}
        assert body["warranty_months"] == 24
        assert body["weight_grams"] == 2350
        assert body["dimensions_cm"] == {"length": 40, "width": 25.5, "height": 18.2}
        assert (await http.get(f"/v1/products/{sku}")).json() == body
        # The same PUT twice: the same product.
        assert (await http.put(f"/v1/products/{sku}", json=_update())).json() == body
        # Left out, weight and size are cleared: PUT replaces.
        cleared = await http.put(
            f"/v1/products/{sku}",
            json={k: v for k, v in _update().items() if k not in ("weight_grams", "dimensions_cm")},
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["weight_grams"] is None
        assert cleared.json()["dimensions_cm"] is None
        # A new product may carry them from the start.
        fresh = await http.post(
            "/v1/products", json={**_update(), "sku": f"{sku}-2", "weight_grams": 500}
        )
        assert fresh.status_code == 201, fresh.text
        assert fresh.json()["weight_grams"] == 500
        assert fresh.json()["dimensions_cm"] == {"length": 40, "width": 25.5, "height": 18.2}


async def test_bad_updates_are_refused_and_other_catalogs_are_out_of_reach(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    other = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    bad = [
        _update(dimensions_cm={"length": 40, "width": 25}),
        _update(dimensions_cm={"length": 0, "width": 25, "height": 10}),
        _update(dimensions_cm={"length": 1001, "width": 25, "height": 10}),
        _update(dimensions_cm={"length": 10.25, "width": 25, "height": 10}),
        _update(dimensions_cm={"length": 10, "width": 25, "height": 10, "depth": 1}),
        _update(weight_grams=0),
        _update(weight_grams=1_000_001),
        _update(weight_grams=1.5),
        _update(name="Speaker\x00"),
        _update(name=""),
        _update(sku="OTHER-SKU"),
        {k: v for k, v in _update().items() if k != "name"},
    ]
    async with stack.http(shop.key) as http:
        for body in bad:
            assert_problem(
                await http.put(f"/v1/products/{sku}", json=body), 422, "validation_error"
            )
        assert_problem(await http.put("/v1/products/NO-SUCH-SKU", json=_update()), 404, "not_found")
        unchanged = (await http.get(f"/v1/products/{sku}")).json()
        assert unchanged["weight_grams"] is None and unchanged["name"] == f"Product {sku}"
    async with stack.http(other.key) as http:
        assert_problem(await http.put(f"/v1/products/{sku}", json=_update()), 404, "not_found")
    center = await make_org(stack, "repair_center")
    async with stack.http(center.key) as http:
        assert_problem(await http.put(f"/v1/products/{sku}", json=_update()), 403, "forbidden")
