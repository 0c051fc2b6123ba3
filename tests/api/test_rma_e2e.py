"""The RMA lifecycle end to end over HTTP, on SQLite and PostgreSQL, with the real dev server
and worker: create, label scanned back, signed carrier events, receive, inspect, refund."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.helpers import Org, add_product, customer, make_org, wait_for
from tests.api.test_foundation import assert_problem
from tests.documents.barcodes import decode_barcodes
from tests.support import CARRIER_SECRET, Stack, signed_event


def rma_body(
    sku: str,
    *,
    serial: str | None = None,
    resolution: str = "refund",
    days_ago: int = 3,
    quantity: int = 1,
) -> dict[str, Any]:
    purchased = datetime.now(UTC) - timedelta(days=days_ago)
    return {
        "order_ref": f"SO-{uuid.uuid4().hex[:6]}",
        "purchased_at": purchased.isoformat().replace("+00:00", "Z"),
        "customer": customer(),
        "items": [
            {
                "sku": sku,
                "serial": serial or f"SN-{uuid.uuid4().hex[:8]}",
                "quantity": quantity,
                "reason": "defective",
                "notes": "crackles",
            }
        ],
        "resolution": resolution,
    }


async def wait_until(http: httpx.AsyncClient, rma_id: str, predicate: Any) -> dict[str, Any]:
    """The RMA's body once `predicate` holds of it."""
    return await wait_for(http, f"/v1/rmas/{rma_id}", predicate)


def with_label(body: dict[str, Any]) -> bool:
    """The label step is over: documents, shipment and its timeline entry all recorded."""
    return (
        any(d["kind"] == "return_label" for d in body["documents"])
        and any(d["kind"] == "packing_slip" for d in body["documents"])
        and bool(body["shipments"])
        and any(e["event"] == "label_created" for e in body["timeline"])
    )


async def carrier(
    stack: Stack, event: dict[str, Any], secret: str = CARRIER_SECRET, at: float | None = None
) -> httpx.Response:
    raw, headers = signed_event(secret, event, at)
    async with stack.http() as http:
        return await http.post("/v1/carrier-events", content=raw, headers=headers)


def scan(tracking: str, status: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{uuid.uuid4().hex}",
        "tracking_number": tracking,
        "status": status,
        "occurred_at": datetime.now(UTC).isoformat(),
        "location": "Memphis hub",
    }


async def new_retailer(stack: Stack) -> tuple[Org, str]:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, price="120.00")
    return retailer, product["sku"]


async def test_refund_end_to_end(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku, quantity=2))
        assert created.status_code == 201, created.text
        rma = created.json()
        assert rma["status"] == "awaiting_return"
        assert rma["coverage"] == "return_window"
        assert rma["id"].startswith("RMA-")
        assert len(rma["tracking_token"]) >= 22  # at least 128 random bits

        rma = await wait_until(http, rma["id"], with_label)
        tracking = rma["shipments"][0]["tracking_number"]
        assert rma["shipments"][0]["direction"] == "inbound"

        # The label is a real PDF whose barcodes scan back to the tracking number and page.
        label = next(d for d in rma["documents"] if d["kind"] == "return_label")
        pdf = await http.get(label["url"])
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        codes = dict((fmt, text) for fmt, text in decode_barcodes(pdf.content))
        assert tracking in codes.values()
        assert f"{stack.base_url}/track/{rma['tracking_token']}" in codes.values()
        import hashlib

        assert hashlib.sha256(pdf.content).hexdigest() == label["sha256"]

    # Signed carrier scans move it along; a replayed event is accepted and ignored.
    first = scan(tracking, "picked_up")
    assert (await carrier(stack, first)).json() == {
        "event_id": first["event_id"],
        "duplicate": False,
    }
    assert (await carrier(stack, first)).json()["duplicate"] is True
    assert (await carrier(stack, scan(tracking, "delivered"))).status_code == 200

    async with stack.http(retailer.key) as http:
        rma = await wait_until(http, rma["id"], lambda b: b["status"] == "in_transit")
        assert [e["event"] for e in rma["timeline"]].count("carrier_picked_up") == 1
        received = await http.post(f"/v1/rmas/{rma['id']}/receive", json={"note": "dock 3"})
        assert received.status_code == 200, received.text
        assert received.json()["status"] == "received"
        inspected = await http.post(
            f"/v1/rmas/{rma['id']}/inspection",
            json={"grade": "B", "serial_matches": True, "notes": "ok"},
        )
        assert inspected.status_code == 200, inspected.text
        done = await wait_until(http, rma["id"], lambda b: b["status"] == "completed")
        assert done["outcome"] == "refunded"
        # 2 x 120.00 less 15 % restocking.
        assert done["refund"] == {"amount": "204.00", "currency": "USD"}

        # Every state is on the timeline with its time and actor.
        timeline = done["timeline"]
        statuses = [e["status"] for e in timeline]
        for state in ("awaiting_return", "in_transit", "received", "resolving", "completed"):
            assert state in statuses
        received_entry = next(e for e in timeline if e["event"] == "received")
        assert received_entry["actor"] == f"retailer:{retailer.id}"
        assert all(e["at"] for e in timeline)

    # The customer's view: no key, no personal data beyond the first name.
    async with stack.http() as anonymous:
        tracked = await anonymous.get(f"/v1/track/{rma['tracking_token']}")
        assert tracked.status_code == 200
        body = tracked.json()
        assert (body["case_type"], body["id"], body["status"]) == ("rma", rma["id"], "completed")
        assert body["customer_first_name"] == "Ada"
        text = tracked.text
        for personal in ("Lovelace", "ada@example.com", "555 0100", "Analytical Row"):
            assert personal not in text
        doc = body["documents"][0]
        assert (await anonymous.get(doc["url"])).status_code == 200  # ?token= works
        assert (await anonymous.get(f"/v1/documents/{doc['id']}")).status_code == 401
        assert (await anonymous.get(f"/v1/documents/{doc['id']}?token=wrong")).status_code == 404
        assert (await anonymous.get("/v1/track/not-a-token")).status_code == 404


async def test_carrier_event_refusals(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        rma = (await http.post("/v1/rmas", json=rma_body(sku))).json()
        rma = await wait_until(http, rma["id"], with_label)
    tracking = rma["shipments"][0]["tracking_number"]
    bad_signature = await carrier(stack, scan(tracking, "picked_up"), secret="wrong")
    assert_problem(bad_signature, 401, "invalid_signature")
    stale = await carrier(stack, scan(tracking, "picked_up"), at=time.time() - 600)
    assert_problem(stale, 401, "invalid_signature")
    async with stack.http() as http:
        unsigned = await http.post("/v1/carrier-events", json=scan(tracking, "picked_up"))
        assert_problem(unsigned, 401, "invalid_signature")
    assert_problem(await carrier(stack, scan("AS0000000000000000", "picked_up")), 404, "not_found")
    malformed = await carrier(
        stack,
        {
            "event_id": "x",
            "tracking_number": tracking,
            "status": "teleported",
            "occurred_at": "soon",
        },
    )
    assert_problem(malformed, 422, "validation_error")
    async with stack.http(retailer.key) as http:
        # None of that moved the case.
        assert (await http.get(f"/v1/rmas/{rma['id']}")).json()["status"] == "awaiting_return"
        cancelled = await http.post(f"/v1/rmas/{rma['id']}/cancel", json={"reason": "oops"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        # A voided label's tracking number is refused.
    assert_problem(await carrier(stack, scan(tracking, "picked_up")), 404, "not_found")


async def test_tenancy_kinds_and_bad_bodies(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    other, _ = await new_retailer(stack)
    center = await make_org(stack, "repair_center")
    async with stack.http(retailer.key) as http:
        rma = (await http.post("/v1/rmas", json=rma_body(sku))).json()
    async with stack.http(other.key) as http:
        for response in (
            await http.get(f"/v1/rmas/{rma['id']}"),
            await http.post(f"/v1/rmas/{rma['id']}/cancel"),
            await http.post(f"/v1/rmas/{rma['id']}/receive"),
        ):
            assert_problem(response, 404, "not_found")
        assert rma["id"] not in [r["id"] for r in (await http.get("/v1/rmas")).json()["items"]]
    async with stack.http(center.key) as http:
        assert_problem(await http.post("/v1/rmas", json=rma_body(sku)), 403, "forbidden")
        assert_problem(await http.get(f"/v1/rmas/{rma['id']}"), 404, "not_found")
    async with stack.http(retailer.key) as http:
        count_before = len((await http.get("/v1/rmas", params={"limit": 200})).json()["items"])
        bad_bodies = [
            {},
            {**rma_body(sku), "items": []},
            {**rma_body(sku), "resolution": "teleport"},
            {**rma_body(sku), "purchased_at": "yesterday"},
            {**rma_body(sku), "purchased_at": "2026-11-01T10:00:00"},  # no time zone
            {
                **rma_body(sku),
                "items": [{"sku": sku, "serial": "S", "quantity": 0, "reason": "defective"}],
            },
            {**rma_body(sku), "customer": {"name": "No Address"}},
        ]
        for body in bad_bodies:
            assert_problem(await http.post("/v1/rmas", json=body), 422, "validation_error")
        assert_problem(
            await http.post("/v1/rmas", json=rma_body("NOT-IN-CATALOG")), 422, "unknown_sku"
        )
        future = rma_body(sku)
        future["purchased_at"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        assert_problem(await http.post("/v1/rmas", json=future), 422, "invalid_purchase_date")
        assert (
            len((await http.get("/v1/rmas", params={"limit": 200})).json()["items"]) == count_before
        )  # nothing was started


async def test_idempotent_create(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    body = rma_body(sku)
    async with stack.http(retailer.key) as http:
        headers = {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
        first, second = await asyncio.gather(
            http.post("/v1/rmas", json=body, headers=headers),
            http.post("/v1/rmas", json=body, headers=headers),
        )
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        assert first.json()["id"] == second.json()["id"]
        third = await http.post("/v1/rmas", json=body, headers=headers)
        assert third.json()["id"] == first.json()["id"]
        changed = {**body, "order_ref": "SO-OTHER"}
        assert_problem(
            await http.post("/v1/rmas", json=changed, headers=headers), 409, "idempotency_conflict"
        )
        listed = (await http.get("/v1/rmas", params={"limit": 200})).json()["items"]
        assert [r["id"] for r in listed].count(first.json()["id"]) == 1
        assert len(listed) == 1


async def test_invalid_transition_is_409_and_changes_nothing(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        rma = (await http.post("/v1/rmas", json=rma_body(sku))).json()
        rma = await wait_until(http, rma["id"], with_label)
        response = await http.post(
            f"/v1/rmas/{rma['id']}/inspection", json={"grade": "A", "serial_matches": True}
        )
        assert_problem(response, 409, "invalid_transition")
        assert response.json()["current_status"] == "awaiting_return"
        assert set(response.json()["allowed"]) == {"cancel", "receive"}
        assert_problem(await http.post(f"/v1/rmas/{rma['id']}/approve"), 409, "invalid_transition")
        after = (await http.get(f"/v1/rmas/{rma['id']}")).json()
        assert after["status"] == "awaiting_return"
        assert after["timeline"] == rma["timeline"]
        # A finished case refuses every command with 409 too.
        await http.post(f"/v1/rmas/{rma['id']}/cancel")
        again = await http.post(f"/v1/rmas/{rma['id']}/cancel")
        assert_problem(again, 409, "invalid_transition")
        assert again.json()["current_status"] == "cancelled"


async def test_review_duplicate_serial_and_policy_snapshot(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    cheap = (await add_product(stack, retailer, price="100.00"))["sku"]
    pricey = (await add_product(stack, retailer, price="1500.00"))["sku"]
    async with stack.http(retailer.key) as http:
        review = (await http.post("/v1/rmas", json=rma_body(pricey))).json()
        assert review["status"] == "pending_review"
        assert review["documents"] == []
        approved = await http.post(f"/v1/rmas/{review['id']}/approve")
        assert approved.json()["status"] == "awaiting_return"
        rejected_case = (await http.post("/v1/rmas", json=rma_body(pricey))).json()
        rejected = await http.post(
            f"/v1/rmas/{rejected_case['id']}/reject", json={"reason": "serial_not_sold_here"}
        )
        assert (rejected.json()["status"], rejected.json()["reason"]) == (
            "rejected",
            "serial_not_sold_here",
        )

        # The same serial cannot have two open returns.
        serial = f"SN-{uuid.uuid4().hex[:6]}"
        snapshot = (await http.post("/v1/rmas", json=rma_body(cheap, serial=serial))).json()
        duplicate = (await http.post("/v1/rmas", json=rma_body(cheap, serial=serial))).json()
        assert (duplicate["status"], duplicate["reason"]) == ("rejected", "duplicate_open_case")
        old = (await http.post("/v1/rmas", json=rma_body(cheap, days_ago=40))).json()
        assert (old["status"], old["reason"]) == ("rejected", "outside_return_window")

        # A later policy change does not touch the open case: it refunds at the old fee.
        await http.put("/v1/policy", json={"restocking_fee_percent": 50})
        await wait_until(http, snapshot["id"], with_label)
        await http.post(f"/v1/rmas/{snapshot['id']}/receive")
        await http.post(
            f"/v1/rmas/{snapshot['id']}/inspection", json={"grade": "B", "serial_matches": True}
        )
        done = await wait_until(http, snapshot["id"], lambda b: b["status"] == "completed")
        assert done["refund"]["amount"] == "85.00"

        listed = (await http.get("/v1/rmas", params={"status": "rejected"})).json()["items"]
        assert {r["id"] for r in listed} == {rejected_case["id"], duplicate["id"], old["id"]}


async def test_list_pagination(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        ids = [(await http.post("/v1/rmas", json=rma_body(sku))).json()["id"] for _ in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await http.get("/v1/rmas", params=params)).json()
            assert len(page["items"]) <= 2
            seen += [r["id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids)
        assert len(seen) == len(set(seen))
        assert_problem(
            await http.get("/v1/rmas", params={"cursor": "garbage!"}), 422, "invalid_cursor"
        )
        assert_problem(await http.get("/v1/rmas", params={"limit": 1000}), 422, "validation_error")
