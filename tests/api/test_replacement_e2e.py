"""Replacements end to end over HTTP, on SQLite and PostgreSQL, with the real dev server and
worker: concurrent requests never oversell, stock wakes backorders, an RMA resolved by
replacement completes as `replaced`, and an advance exchange gets its core back."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx

from tests.api.helpers import Org, add_product, customer, make_org, wait_for
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import carrier, rma_body, scan, with_label
from tests.documents.barcodes import decode_barcodes
from tests.support import Stack


def replacement_body(sku: str, mode: str = "standard", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mode": mode,
        "unit": {"sku": sku, "serial": f"SN-{uuid.uuid4().hex[:10]}"},
        "customer": customer(),
    }
    body.update(changes)
    return body


async def stock(http: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    response = await http.get(f"/v1/inventory/{sku}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def shop_with_stock(stack: Stack, quantity: int) -> tuple[Org, str]:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, price="80.00")
    async with stack.http(retailer.key) as shop:
        put = await shop.put(f"/v1/inventory/{product['sku']}", json={"quantity": quantity})
        assert put.status_code == 200, put.text
        assert put.json() == {
            "sku": product["sku"],
            "quantity": quantity,
            "reserved": 0,
            "available": quantity,
        }
    return retailer, product["sku"]


async def test_fifty_at_once_never_oversell_and_stock_wakes_backorders(stack: Stack) -> None:
    retailer, sku = await shop_with_stock(stack, 10)
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(
        base_url=stack.base_url,
        headers={"Authorization": f"Bearer {retailer.key}"},
        timeout=120,
        limits=limits,
    ) as shop:
        answers = await asyncio.gather(
            *(shop.post("/v1/replacements", json=replacement_body(sku)) for _ in range(50))
        )
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
        statuses = Counter(a.json()["status"] for a in answers)
        assert statuses == {"shipped": 10, "backordered": 40}
        assert await stock(shop, sku) == {
            "sku": sku,
            "quantity": 0,
            "reserved": 0,
            "available": 0,
        }

        # Fewer units than promised cannot be set while reservations are open; 40 wake all.
        woke = await shop.put(f"/v1/inventory/{sku}", json={"quantity": 40})
        assert woke.status_code == 200, woke.text
        assert woke.json()["quantity"] >= woke.json()["reserved"] >= 0
        backordered = [a.json()["id"] for a in answers if a.json()["status"] == "backordered"]
        for replacement_id in backordered:
            shipped = await wait_for(
                shop, f"/v1/replacements/{replacement_id}", lambda b: b["status"] == "shipped"
            )
            assert any(s["direction"] == "outbound" for s in shipped["shipments"])
        assert await stock(shop, sku) == {
            "sku": sku,
            "quantity": 0,
            "reserved": 0,
            "available": 0,
        }
        listed = await shop.get("/v1/replacements", params={"status": "shipped", "limit": 200})
        assert len([r for r in listed.json()["items"] if r["replacement_sku"] == sku]) == 50


async def test_backorders_wake_in_request_order_and_cancel_releases(stack: Stack) -> None:
    retailer, sku = await shop_with_stock(stack, 0)
    async with stack.http(retailer.key) as shop:
        ids = []
        for _ in range(3):
            created = await shop.post("/v1/replacements", json=replacement_body(sku))
            assert created.status_code == 201 and created.json()["status"] == "backordered"
            ids.append(created.json()["id"])
        cancelled = await shop.post(f"/v1/replacements/{ids[1]}/cancel", json={"reason": "x"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert_problem(
            await shop.post(f"/v1/replacements/{ids[1]}/cancel"), 409, "invalid_transition"
        )

        # One unit: the oldest open backorder gets it, the youngest keeps waiting.
        assert (await shop.put(f"/v1/inventory/{sku}", json={"quantity": 1})).status_code == 200
        await wait_for(shop, f"/v1/replacements/{ids[0]}", lambda b: b["status"] == "shipped")
        assert (await shop.get(f"/v1/replacements/{ids[2]}")).json()["status"] == "backordered"
        refused = await shop.post(f"/v1/replacements/{ids[0]}/cancel")
        assert_problem(refused, 409, "invalid_transition")
        assert refused.json()["current_status"] == "shipped"

        other = await make_org(stack, "retailer")
        async with stack.http(other.key) as stranger:
            assert_problem(await stranger.get(f"/v1/replacements/{ids[0]}"), 404, "not_found")
            assert_problem(
                await stranger.post(f"/v1/replacements/{ids[2]}/cancel"), 404, "not_found"
            )
            assert_problem(await stranger.get(f"/v1/inventory/{sku}"), 422, "unknown_sku")


async def test_rma_replacement_completes_as_replaced(stack: Stack) -> None:
    retailer, sku = await shop_with_stock(stack, 1)
    async with stack.http(retailer.key) as shop:
        many = rma_body(sku, resolution="replacement", quantity=2)
        assert_problem(await shop.post("/v1/rmas", json=many), 422, "single_unit_required")
        created = await shop.post("/v1/rmas", json=rma_body(sku, resolution="replacement"))
        assert created.status_code == 201, created.text
        rma = await wait_for(shop, f"/v1/rmas/{created.json()['id']}", with_label)
        inbound = rma["shipments"][0]["tracking_number"]
        label = next(d for d in rma["documents"] if d["kind"] == "return_label")
        codes = {text for _, text in decode_barcodes((await shop.get(label["url"])).content)}
        assert inbound in codes

        assert (await carrier(stack, scan(inbound, "picked_up"))).status_code == 200
        assert (await shop.post(f"/v1/rmas/{rma['id']}/receive")).status_code == 200
        inspected = await shop.post(
            f"/v1/rmas/{rma['id']}/inspection", json={"grade": "A", "serial_matches": True}
        )
        assert inspected.status_code == 200, inspected.text
        replacement_id = inspected.json()["replacement_id"]
        assert replacement_id and replacement_id.startswith("RPL-")

        path = f"/v1/replacements/{replacement_id}"
        replacement = await wait_for(shop, path, lambda b: b["status"] == "shipped")
        assert replacement["rma_id"] == rma["id"]
        assert replacement["mode"] == "standard"
        outbound = next(s for s in replacement["shipments"] if s["direction"] == "outbound")
        shipping = next(d for d in replacement["documents"] if d["kind"] == "shipping_label")
        codes = {text for _, text in decode_barcodes((await shop.get(shipping["url"])).content)}
        assert outbound["tracking_number"] in codes
        assert (await stock(shop, sku))["quantity"] == 0

    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).status_code == 200
    async with stack.http(retailer.key) as shop:
        await wait_for(shop, path, lambda b: b["status"] == "completed")
        done = await wait_for(shop, f"/v1/rmas/{rma['id']}", lambda b: b["status"] == "completed")
        assert done["outcome"] == "replaced"
        assert done["replacement_id"] == replacement_id


async def test_advance_exchange_core_returned(stack: Stack) -> None:
    retailer, sku = await shop_with_stock(stack, 2)
    async with stack.http(retailer.key) as shop:
        missing = replacement_body(sku, mode="advance")
        assert_problem(
            await shop.post("/v1/replacements", json=missing), 422, "payment_method_required"
        )
        declined = await shop.post(
            "/v1/replacements",
            json=replacement_body(sku, mode="advance", payment_method="pm_declined"),
        )
        assert declined.status_code == 201, declined.text
        assert declined.json()["status"] == "payment_failed"
        assert declined.json()["shipments"] == []
        assert (await stock(shop, sku))["available"] == 2

        created = await shop.post(
            "/v1/replacements", json=replacement_body(sku, mode="advance", payment_method="pm_ok")
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["status"] == "shipped"
        assert body["hold"]["amount"] == {"amount": "80.00", "currency": "USD"}
        assert body["hold"]["status"] == "held"
        path = f"/v1/replacements/{body['id']}"
        refused = await shop.post(f"{path}/core-received")
        assert_problem(refused, 409, "invalid_transition")
        outbound = next(s for s in body["shipments"] if s["direction"] == "outbound")

    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).status_code == 200
    async with stack.http(retailer.key) as shop:
        waiting = await wait_for(
            shop, path, lambda b: b["status"] == "awaiting_core" and len(b["shipments"]) == 2
        )
        core = next(s for s in waiting["shipments"] if s["direction"] == "inbound")
        core_label = next(d for d in waiting["documents"] if d["kind"] == "return_label")
        pdf = (await shop.get(core_label["url"])).content
        assert core["tracking_number"] in {text for _, text in decode_barcodes(pdf)}
        back = await shop.post(f"{path}/core-received", json={"note": "core intact"})
        assert back.status_code == 200, back.text
        assert back.json()["status"] == "completed"
        assert back.json()["core_charged"] is False
        assert back.json()["hold"]["status"] == "released"
