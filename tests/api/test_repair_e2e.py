"""Repairs end to end over HTTP, on SQLite and PostgreSQL, with the real dev server and
worker: an RMA resolved by repair worked by its center to completion, a direct paid repair
whose quote the customer declines, routing, tenancy, refusals and the center's queue."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from tests.api.helpers import Org, add_product, customer, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import carrier, rma_body, scan, with_label
from tests.documents.barcodes import decode_barcodes
from tests.support import Stack

CENTER_ADDRESS = {
    "line1": "7 Bench Street",
    "city": "Manchester",
    "postal_code": "M1 1AE",
    "country": "GB",
}


def profile(category: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "categories": [category],
        "regions": ["GB", "IE"],
        "daily_capacity": 10,
        "labor_rate": {"amount": "60.00", "currency": "USD"},
        "address": CENTER_ADDRESS,
    }
    body.update(changes)
    return body


async def new_center(stack: Stack, category: str, **changes: Any) -> Org:
    center = await make_org(stack, "repair_center")
    async with stack.http(center.key) as http:
        response = await http.put("/v1/repair-centers/me", json=profile(category, **changes))
        assert response.status_code == 200, response.text
    return center


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def repair_body(sku: str, coverage: str | None = None, days_ago: int = 400) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": {
            "sku": sku,
            "serial": f"SN-{uuid.uuid4().hex[:8]}",
            "purchased_at": (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
        },
        "fault": "does not heat",
        "customer": customer(),
    }
    if coverage:
        body["coverage"] = coverage
    return body


DIAGNOSIS = {
    "fault_code": "E-PUMP",
    "findings": "Pump seized; replaced pump and gasket.",
    "parts": [
        {"part_no": "P-1001", "description": "Pump", "quantity": 1, "unit_price": "40.00"},
        {"part_no": "G-0042", "description": "Gasket", "quantity": 2, "unit_price": "2.50"},
    ],
    "labor_minutes": 45,
    "repairable": True,
}


async def test_rma_repair_worked_by_the_center_to_completion(stack: Stack) -> None:
    category = f"coffee-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, price="120.00", category=category)
    center = await new_center(stack, category)
    # Same category, but it does not serve GB: the job must not go there.
    other = await new_center(stack, category, regions=["FR"])

    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(product["sku"], resolution="repair"))
        assert created.status_code == 201, created.text
        rma = await wait_for(shop, f"/v1/rmas/{created.json()['id']}", with_label)
        # The customer's label addresses the routed center, not the retailer's returns desk.
        label = next(d for d in rma["documents"] if d["kind"] == "return_label")
        assert CENTER_ADDRESS["line1"] in pdf_text((await shop.get(label["url"])).content)
        inbound = rma["shipments"][0]["tracking_number"]

    assert (await carrier(stack, scan(inbound, "delivered"))).status_code == 200
    async with stack.http(center.key) as bench:
        assert (await bench.post(f"/v1/rmas/{rma['id']}/receive")).status_code == 200
        inspected = await bench.post(
            f"/v1/rmas/{rma['id']}/inspection", json={"grade": "D", "serial_matches": True}
        )
        assert inspected.status_code == 200, inspected.text
        assert inspected.json()["status"] == "resolving"
        repair_id = inspected.json()["repair_id"]
        assert repair_id and repair_id.startswith("REP-")

        path = f"/v1/repairs/{repair_id}"
        # The repair the answer names opens at once: the answer waited for it to be recorded.
        assert (await bench.get(path)).status_code == 200
        job = await wait_for(bench, path, lambda b: b.get("status") == "received")
        assert job["assigned_center"] == center.id
        assert job["rma_id"] == rma["id"]
        assert job["coverage"] == "return_window"
        assert job["tracking_token"] is None  # the customer's credential stays with the shop
        assert job["sla_due_at"] is not None

        # Another center: the job does not exist for it.
        async with stack.http(other.key) as stranger:
            assert_problem(await stranger.get(path), 404, "not_found")
            assert_problem(
                await stranger.post(f"{path}/status", json={"status": "diagnosing"}),
                404,
                "not_found",
            )
            listed = (await stranger.get("/v1/repairs")).json()["items"]
            assert repair_id not in {j["id"] for j in listed}

        # Out of order: 409 with where it is and where it may go; nothing changes.
        refused = await bench.post(f"{path}/status", json={"status": "quality_check"})
        assert_problem(refused, 409, "invalid_transition")
        assert refused.json()["current_status"] == "received"
        assert refused.json()["allowed"] == ["cancelled", "diagnosing"]
        refused = await bench.post(f"{path}/qa", json={"passed": True})
        assert_problem(refused, 409, "invalid_transition")
        unchanged = (await bench.get(path)).json()
        assert unchanged["status"] == "received"
        assert unchanged["timeline"] == job["timeline"]

        step = await bench.post(f"{path}/status", json={"status": "diagnosing"})
        assert step.status_code == 200 and step.json()["status"] == "diagnosing", step.text
        step = await bench.post(f"{path}/diagnosis", json=DIAGNOSIS)
        # Covered by the return window: no quote, straight to ordering parts.
        assert step.status_code == 200 and step.json()["status"] == "awaiting_parts", step.text
        assert step.json()["quote"] is None
        for status in ("repairing", "quality_check"):
            step = await bench.post(f"{path}/status", json={"status": status, "note": "ok"})
            assert step.status_code == 200 and step.json()["status"] == status, step.text
        step = await bench.post(f"{path}/qa", json={"passed": True, "notes": "12 cups brewed"})
        assert step.status_code == 200, step.text
        job = step.json()
        assert job["status"] == "ready_to_ship"
        assert job["sla_breached"] is False

        kinds = {d["kind"]: d for d in job["documents"]}
        certificate = kinds["repair_certificate"]
        shipping = kinds["shipping_label"]
        outbound = next(s for s in job["shipments"] if s["direction"] == "outbound")

        # The certificate: a real PDF naming the job, and its code verifies.
        pdf = (await bench.get(certificate["url"])).content
        assert hashlib.sha256(pdf).hexdigest() == certificate["sha256"]
        text = pdf_text(pdf)
        assert repair_id in text and certificate["verification_code"] in text
        assert "P-1001" in text
        async with stack.http() as anyone:
            verified = await anyone.get(f"/v1/verify/{certificate['verification_code']}")
            assert verified.status_code == 200, verified.text
            assert verified.json()["valid"] is True
            assert verified.json()["kind"] == "repair_certificate"
            assert verified.json()["case_id"] == repair_id
            assert verified.json()["sha256"] == certificate["sha256"]
            assert_problem(await anyone.get("/v1/verify/CR-0000-0000-0000"), 404, "not_found")

        # The return label scans back to its tracking number.
        label_pdf = (await bench.get(shipping["url"])).content
        assert outbound["tracking_number"] in {text for _, text in decode_barcodes(label_pdf)}

    assert (await carrier(stack, scan(outbound["tracking_number"], "picked_up"))).status_code == 200
    async with stack.http(center.key) as bench:
        await wait_for(bench, path, lambda b: b["status"] == "shipped")
    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).status_code == 200
    async with stack.http(retailer.key) as shop:
        done = await wait_for(shop, path, lambda b: b["status"] == "completed")
        assert done["tracking_token"]
        events = [e["event"] for e in done["timeline"]]
        assert events.index("qa_passed") < events.index("ready_to_ship") < events.index("completed")
        finished = await wait_for(
            shop, f"/v1/rmas/{rma['id']}", lambda b: b["status"] == "completed"
        )
        assert finished["outcome"] == "repaired"
        assert finished["repair_id"] == repair_id

    # The customer follows the RMA's link only: its page lists the repair's certificate,
    # which opens with the RMA's token; another case's token does not open it.
    async with stack.http() as customer_browser:
        page = await customer_browser.get(f"/track/{rma['tracking_token']}")
        assert page.status_code == 200
        link = f"/v1/documents/{certificate['id']}?token={rma['tracking_token']}"
        assert link in page.text
        opened = await customer_browser.get(link)
        assert opened.status_code == 200 and opened.content == pdf
        wrong_token = await customer_browser.get(
            f"/v1/documents/{certificate['id']}", params={"token": "x" * 32}
        )
        assert_problem(wrong_token, 404, "not_found")

    async with stack.http(center.key) as bench:
        queue = (await bench.get("/v1/repairs", params={"status": "completed"})).json()
        assert repair_id in {j["id"] for j in queue["items"]}


async def test_direct_paid_repair_quote_declined_by_the_customer(stack: Stack) -> None:
    category = f"audio-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category=category, warranty_months=12)
    center = await new_center(stack, category)

    async with stack.http(retailer.key) as shop:
        # Bought 400 days ago with a 12-month warranty: coverage defaults to paid.
        created = await shop.post("/v1/repairs", json=repair_body(product["sku"]))
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["status"] == "awaiting_unit"
        assert job["coverage"] == "paid"
        assert job["assigned_center"] == center.id
        path = f"/v1/repairs/{job['id']}"
        token = job["tracking_token"]
        job = await wait_for(shop, path, lambda b: bool(b["documents"]) and bool(b["shipments"]))
        label = next(d for d in job["documents"] if d["kind"] == "return_label")
        assert CENTER_ADDRESS["line1"] in pdf_text((await shop.get(label["url"])).content)
        # The retailer may not work the job.
        assert_problem(
            await shop.post(f"{path}/status", json={"status": "received"}), 403, "forbidden"
        )

    async with stack.http(center.key) as bench:
        for status in ("received", "diagnosing"):
            step = await bench.post(f"{path}/status", json={"status": status})
            assert step.status_code == 200, step.text
        step = await bench.post(f"{path}/diagnosis", json=DIAGNOSIS)
        assert step.status_code == 200, step.text
        job = step.json()
        assert job["status"] == "awaiting_approval"
        # Parts 40.00 + 2 x 2.50 = 45.00; labor 45 min at 60.00/h = 45.00.
        assert job["quote"]["parts_total"]["amount"] == "45.00"
        assert job["quote"]["labor_total"]["amount"] == "45.00"
        assert job["quote"]["total"]["amount"] == "90.00"
        assert job["quote"]["expires_at"]

    async with stack.http() as customer_http:
        tracking = (await customer_http.get(f"/v1/track/{token}")).json()
        assert tracking["status"] == "awaiting_approval"
        actions = {a["action"]: a for a in tracking["actions"]}
        assert actions.keys() == {"approve_quote", "decline_quote"}
        assert actions["approve_quote"]["amount"]["amount"] == "90.00"
        assert "Ada Lovelace" not in str(tracking)  # first name only

        declined = await customer_http.post(f"/v1/track/{token}/quote", json={"approve": False})
        assert declined.status_code == 200, declined.text
        assert declined.json()["status"] == "ready_to_ship"
        again = await customer_http.post(f"/v1/track/{token}/quote", json={"approve": True})
        assert_problem(again, 409, "invalid_transition")
        assert_problem(
            await customer_http.post("/v1/track/not-a-token/quote", json={"approve": True}),
            404,
            "not_found",
        )

    async with stack.http(retailer.key) as shop:
        job = (await shop.get(path)).json()
        assert job["quote"]["outcome"] == "declined"
        kinds = [d["kind"] for d in job["documents"]]
        assert "repair_certificate" not in kinds and "shipping_label" in kinds
        outbound = next(s for s in job["shipments"] if s["direction"] == "outbound")
    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).status_code == 200
    async with stack.http(retailer.key) as shop:
        await wait_for(shop, path, lambda b: b["status"] == "returned_unrepaired")


async def test_unroutable_cancel_and_duplicates(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    nobody = await add_product(stack, retailer, category=f"none-{uuid.uuid4().hex[:6]}")
    category = f"tv-{uuid.uuid4().hex[:6]}"
    product = await add_product(stack, retailer, category=category)
    await new_center(stack, category)
    async with stack.http(retailer.key) as shop:
        unroutable = await shop.post("/v1/repairs", json=repair_body(nobody["sku"]))
        assert unroutable.status_code == 201, unroutable.text
        assert unroutable.json()["status"] == "unroutable"
        assert unroutable.json()["assigned_center"] is None

        body = repair_body(product["sku"], coverage="warranty")
        created = await shop.post("/v1/repairs", json=body, headers={"Idempotency-Key": "k-1"})
        assert created.status_code == 201, created.text
        again = await shop.post("/v1/repairs", json=body, headers={"Idempotency-Key": "k-1"})
        assert again.status_code == 201 and again.json()["id"] == created.json()["id"]
        # The same unit without the key: it has an open case already.
        assert_problem(await shop.post("/v1/repairs", json=body), 409, "duplicate_open_case")

        path = f"/v1/repairs/{created.json()['id']}"
        cancelled = await shop.post(f"{path}/cancel", json={"reason": "customer changed mind"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert_problem(await shop.post(f"{path}/cancel"), 409, "invalid_transition")

        other_shop = await make_org(stack, "retailer")
        async with stack.http(other_shop.key) as stranger:
            assert_problem(await stranger.get(path), 404, "not_found")
            assert_problem(await stranger.post(f"{path}/cancel"), 404, "not_found")

        bad = repair_body(product["sku"])
        bad["coverage"] = "free"
        assert_problem(await shop.post("/v1/repairs", json=bad), 422, "validation_error")
        future = repair_body(product["sku"], days_ago=-3)
        assert_problem(await shop.post("/v1/repairs", json=future), 422, "invalid_purchase_date")
        unknown = repair_body("NO-SUCH-SKU")
        assert_problem(await shop.post("/v1/repairs", json=unknown), 422, "unknown_sku")


async def test_center_profile_and_queue_oldest_first(stack: Stack) -> None:
    category = f"fridge-{uuid.uuid4().hex[:6]}"
    center = await new_center(stack, category, categories=[category, category, "spare"])
    async with stack.http(center.key) as bench:
        me = (await bench.get("/v1/repair-centers/me")).json()
        assert me["categories"] == sorted({category, "spare"})
        assert me["labor_rate"] == {"amount": "60.00", "currency": "USD"}
        assert me["open_jobs"] == 0
        for bad in (
            profile(category, regions=["gb"]),
            profile(category, daily_capacity=-1),
            profile(category, categories=[]),
            profile(category, labor_rate="-5"),
        ):
            assert_problem(
                await bench.put("/v1/repair-centers/me", json=bad), 422, "validation_error"
            )

    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category=category)
    async with stack.http(retailer.key) as shop:
        assert_problem(await shop.get("/v1/repair-centers/me"), 403, "forbidden")
        ids = []
        for _ in range(3):
            created = await shop.post("/v1/repairs", json=repair_body(product["sku"], "warranty"))
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        newest_first = [j["id"] for j in (await shop.get("/v1/repairs")).json()["items"]]
        assert newest_first[:3] == ids[::-1]
    async with stack.http(center.key) as bench:
        first = (await bench.get("/v1/repairs", params={"limit": 2})).json()
        assert [j["id"] for j in first["items"]] == ids[:2]
        rest = (
            await bench.get("/v1/repairs", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        assert [j["id"] for j in rest["items"]] == ids[2:]
        waiting = (await bench.get("/v1/repairs", params={"status": "awaiting_unit"})).json()
        assert len(waiting["items"]) == 3
        assert (await bench.get("/v1/repair-centers/me")).json()["open_jobs"] == 3


async def rma_received_by_its_center(stack: Stack) -> tuple[dict[str, Any], Org, Org]:
    """An RMA resolved by repair, its parcel delivered to the routed center and received
    there (inspection is next); its retailer and the center."""
    category = f"kettle-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, price="80.00", category=category)
    center = await new_center(stack, category)
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(product["sku"], resolution="repair"))
        assert created.status_code == 201, created.text
        rma = await wait_for(shop, f"/v1/rmas/{created.json()['id']}", with_label)
    inbound = rma["shipments"][0]["tracking_number"]
    assert (await carrier(stack, scan(inbound, "delivered"))).status_code == 200
    async with stack.http(center.key) as bench:
        assert (await bench.post(f"/v1/rmas/{rma['id']}/receive")).status_code == 200
    return rma, retailer, center


async def test_an_rma_whose_repair_is_terminated_ends_cancelled_not_stuck(stack: Stack) -> None:
    rma, retailer, center = await rma_received_by_its_center(stack)
    async with stack.http(center.key) as bench:
        inspected = await bench.post(
            f"/v1/rmas/{rma['id']}/inspection", json={"grade": "D", "serial_matches": True}
        )
        repair_id = inspected.json()["repair_id"]
        await wait_for(bench, f"/v1/repairs/{repair_id}", lambda b: b["status"] == "received")

    # An operator ends the repair from the Temporal UI or CLI.
    await stack.client.get_workflow_handle(f"repair:{repair_id}").terminate("wrong unit")
    async with stack.http(retailer.key) as shop:
        done = await wait_for(shop, f"/v1/rmas/{rma['id']}", lambda b: b["status"] == "cancelled")
        assert done["reason"] == "repair_ended"
        ended = next(e for e in done["timeline"] if e["event"] == "repair_ended")
        assert ended["detail"] == {"repair_id": repair_id, "cause": "TerminatedError"}
    rma_run = await stack.client.get_workflow_handle(f"rma:{rma['id']}").describe()
    assert rma_run.status is not None and rma_run.status.name == "COMPLETED"


async def test_an_inspected_rmas_repair_opens_as_soon_as_the_answer_names_it(
    stack: Stack, sessions: Sessions
) -> None:
    """The repair an inspection starts is recorded by its own workflow, moments later: the
    answer waits for it, so the id it gives never answers 404. The child's first write is
    held back here (a lock on its items' table, which the RMA's own writes do not touch)
    for a second; PostgreSQL only, SQLite's one write lock would hold the RMA back too."""
    if stack.backend != "postgres":
        pytest.skip("table locks are PostgreSQL's")
    rma, _, center = await rma_received_by_its_center(stack)
    async with stack.http(center.key) as bench:
        locked = asyncio.Event()

        async def hold_the_childs_first_write() -> None:
            async with sessions() as held, held.begin():
                await held.execute(text("LOCK TABLE case_items IN SHARE MODE"))
                locked.set()
                await asyncio.sleep(1.0)

        holding = asyncio.create_task(hold_the_childs_first_write())
        await locked.wait()
        inspected = await bench.post(
            f"/v1/rmas/{rma['id']}/inspection", json={"grade": "D", "serial_matches": True}
        )
        assert inspected.status_code == 200, inspected.text
        opened = await bench.get(f"/v1/repairs/{inspected.json()['repair_id']}")
        assert opened.status_code == 200, opened.text
        assert opened.json()["rma_id"] == rma["id"]
        await holding
