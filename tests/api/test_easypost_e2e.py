"""EasyPost end to end: a retailer on EasyPost (PUT /v1/integrations/carrier), the real
stack (dev server, worker, API over HTTP) pointed at the local EasyPost
(tests/stubs/easypost.py) through AFTERSALES_EASYPOST_API_BASE, the real SDK in the worker.

An RMA, a repair and an advance replacement get EasyPost's own labels; a booking whose
answer was lost buys once; a cancelled RMA's label is refunded; tracker webhooks move a case
(a bad signature is a 401); a refused address shows as `carrier_error` until the retailer
corrects it and retries. A service plan's claims book their parcels on EasyPost too: the
repair's inbound label and the replacement's outbound one."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import models
from db.session import make_engine, make_sessionmaker
from domain.ids import rma_workflow_id
from tests.api.helpers import Org, add_product, make_org, own_stack, wait_for
from tests.api.test_foundation import assert_problem
from tests.api.test_plans import plan
from tests.api.test_repair_e2e import new_center, repair_body
from tests.api.test_replacement_e2e import replacement_body
from tests.api.test_rma_e2e import rma_body, with_label
from tests.api.test_service_plan_e2e import enrolment
from tests.stubs.easypost import LABEL_MARK, EasyPostStub
from tests.support import Stack, replayer

HOOK_SECRET = f"ephook_{uuid.uuid4().hex}"
PARCEL = {"weight_grams": 2500, "dimensions_cm": {"length": 40, "width": 30, "height": 20}}


@dataclass
class EasyPostWorld:
    stack: Stack
    stub: EasyPostStub

    async def retailer(self, **product: Any) -> tuple[Org, str]:
        """A retailer on EasyPost with a product of known weight and size."""
        shop = await make_org(self.stack, "retailer")
        async with self.stack.http(shop.key) as http:
            put = await http.put(
                "/v1/integrations/carrier",
                json={
                    "provider": "easypost",
                    "api_key": self.stub.api_key,
                    "webhook_secret": HOOK_SECRET,
                },
            )
            assert put.status_code == 200, put.text
        created = await add_product(self.stack, shop, price="120.00", **product)
        async with self.stack.http(shop.key) as http:
            update = {k: created[k] for k in ("name", "category", "warranty_months")} | {
                "unit_price": created["unit_price"]["amount"],
                **PARCEL,
            }
            put = await http.put(f"/v1/products/{created['sku']}", json=update)
            assert put.status_code == 200, put.text
        return shop, created["sku"]

    async def shipment_row(self, tracking_number: str) -> models.Shipment:
        engine = make_engine(self.stack.settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                row = await session.scalar(
                    select(models.Shipment).where(
                        models.Shipment.tracking_number == tracking_number
                    )
                )
                assert row is not None
                return row
        finally:
            await engine.dispose()

    async def tracker(
        self, tracking_code: str, status: str, secret: str = HOOK_SECRET, **kw: Any
    ) -> httpx.Response:
        event = self.stub.tracker_event(tracking_code, status, **kw)
        return await self.send(event, secret)

    async def send(self, event: dict[str, Any], secret: str = HOOK_SECRET) -> httpx.Response:
        url = f"{self.stack.base_url}/v1/carrier-events/easypost"
        return await asyncio.to_thread(self.stub.send, url, event, secret)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def easypost(
    request: pytest.FixtureRequest,
    dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[EasyPostWorld]:
    """A stack of the module's own (see `own_stack`) with its worker's EasyPost at the
    local stub."""
    stub = EasyPostStub().start()
    try:
        async with own_stack(
            request, dev_server, tmp_path_factory, "easypost", easypost_api_base=stub.base_url
        ) as stack:
            yield EasyPostWorld(stack, stub)
    finally:
        stub.stop()


async def replays(stack: Stack, rma_id: str) -> None:
    """The RMA's history so far replays on the workflow code (the carrier-error path too)."""
    history = await stack.client.get_workflow_handle(rma_workflow_id(rma_id)).fetch_history()
    await replayer().replay_workflow(history)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def label_of(http: httpx.AsyncClient, body: dict[str, Any], kind: str) -> bytes:
    document = next(d for d in body["documents"] if d["kind"] == kind)
    answer = await http.get(document["url"])
    assert answer.status_code == 200, answer.text
    return answer.content


async def test_an_rma_on_easypost_stores_easyposts_label_cost_and_tracking(
    easypost: EasyPostWorld,
) -> None:
    shop, sku = await easypost.retailer()
    async with easypost.stack.http(shop.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        rma = await wait_for(http, f"/v1/rmas/{created.json()['id']}", with_label)
        tracking = rma["shipments"][0]["tracking_number"]
        shipment = easypost.stub.by_tracking_code(tracking)
        assert rma["shipments"][0]["carrier"] == "USPS"
        assert rma["shipments"][0]["service"] == "GroundAdvantage"
        assert rma["shipments"][0]["cost"] == {"amount": "5.20", "currency": "USD"}
        # The customer's tracking shows the parcel, not what its label cost.
        tracked = await http.get(f"/v1/track/{rma['tracking_token']}")
        assert tracked.status_code == 200, tracked.text
        assert [s.get("cost") for s in tracked.json()["shipments"]] == [None]
        # The carrier's own 4x6 label, not ours; our packing slip beside it.
        label = await label_of(http, rma, "return_label")
        page = PdfReader(io.BytesIO(label)).pages[0]
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (288.0, 432.0)
        assert LABEL_MARK in pdf_text(label) and tracking in pdf_text(label)
        assert rma["id"] in pdf_text(await label_of(http, rma, "packing_slip"))
        assert rma["carrier_error"] is None
    # EasyPost was asked for a return, with the product's parcel, under our key.
    assert shipment["is_return"] is True
    assert shipment["reference"].endswith("/inbound-shipment")
    assert (shipment["parcel"]["weight"], shipment["parcel"]["length"]) == (88.2, 15.8)
    assert easypost.stub.buys_of(shipment["id"]) == 1
    row = await easypost.shipment_row(tracking)
    assert (row.provider, row.provider_shipment_id) == ("easypost", shipment["id"])
    assert (row.cost, row.currency, row.service) == (Decimal("5.20"), "USD", "GroundAdvantage")


async def test_a_booking_whose_answer_was_lost_buys_once(easypost: EasyPostWorld) -> None:
    shop, sku = await easypost.retailer()
    # EasyPost buys the label, then its answer is lost: the activity retries.
    easypost.stub.fail_next("buy", 503, after=True)
    async with easypost.stack.http(shop.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        rma = await wait_for(http, f"/v1/rmas/{created.json()['id']}", with_label)
    assert easypost.stub.faults["buy"] == [], "the lost answer was never injected"
    shipment = easypost.stub.by_tracking_code(rma["shipments"][0]["tracking_number"])
    assert easypost.stub.buys_of(shipment["id"]) == 1
    created_for_it = [
        r
        for r in easypost.stub.requests
        if r[:2] == ("POST", "/v2/shipments")
        and r[2]["shipment"]["reference"] == shipment["reference"]
    ]
    assert len(created_for_it) == 1


async def test_a_cancelled_rma_refunds_its_label(easypost: EasyPostWorld) -> None:
    shop, sku = await easypost.retailer()
    async with easypost.stack.http(shop.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        path = f"/v1/rmas/{created.json()['id']}"
        rma = await wait_for(http, path, with_label)
        cancelled = await http.post(f"{path}/cancel", json={"reason": "changed mind"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["shipments"][0]["status"] == "voided"
    shipment = easypost.stub.by_tracking_code(rma["shipments"][0]["tracking_number"])
    assert easypost.stub.refunds == [*easypost.stub.refunds[:-1], shipment["id"]]
    assert shipment["refund_status"] == "submitted"


async def test_tracker_webhooks_move_the_case_once_and_need_the_retailers_signature(
    easypost: EasyPostWorld,
) -> None:
    shop, sku = await easypost.retailer()
    async with easypost.stack.http(shop.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        path = f"/v1/rmas/{created.json()['id']}"
        rma = await wait_for(http, path, with_label)
    tracking = rma["shipments"][0]["tracking_number"]

    # Signed with another secret, or not at all: 401, nothing moves.
    assert_problem(
        await easypost.tracker(tracking, "in_transit", "wrong"), 401, "invalid_signature"
    )
    event = easypost.stub.tracker_event(tracking, "in_transit")
    async with httpx.AsyncClient() as raw:
        unsigned = await raw.post(
            f"{easypost.stack.base_url}/v1/carrier-events/easypost", json=event
        )
    assert_problem(unsigned, 401, "invalid_signature")

    # pre_transit says nothing of the parcel's journey: acknowledged, no scan.
    quiet = await easypost.tracker(tracking, "pre_transit")
    assert quiet.status_code == 200 and quiet.json()["ignored"] is True, quiet.text

    moved = await easypost.send(event)
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"event_id": event["id"], "duplicate": False, "ignored": False}
    again = await easypost.send(event)
    assert again.json()["duplicate"] is True
    async with easypost.stack.http(shop.key) as http:
        rma = await wait_for(http, path, lambda b: b["status"] == "in_transit")
        # The first in_transit after pre_transit is the carrier taking the parcel.
        assert [e["event"] for e in rma["timeline"]].count("carrier_picked_up") == 1
        entry = next(e for e in rma["timeline"] if e["event"] == "carrier_picked_up")
        assert entry["detail"]["location"] == "Memphis, TN, US"

    delivered = await easypost.tracker(tracking, "delivered")
    assert delivered.status_code == 200, delivered.text
    async with easypost.stack.http(shop.key) as http:
        await wait_for(
            http, path, lambda b: any(e["event"] == "carrier_delivered" for e in b["timeline"])
        )
    # A tracker of a parcel we never booked (the retailer ships other things): acknowledged.
    stranger = easypost.stub.tracker_event(tracking, "delivered")
    stranger["result"]["tracking_code"] = "9400999999999999"
    ignored = await easypost.send(stranger)
    assert ignored.status_code == 200 and ignored.json()["ignored"] is True


async def test_a_refused_address_waits_for_the_retailers_fix_and_retry(
    easypost: EasyPostWorld,
) -> None:
    shop, sku = await easypost.retailer()
    body = rma_body(sku)
    body["customer"]["address"]["line1"] = "1 BAD Street"
    async with easypost.stack.http(shop.key) as http:
        created = await http.post("/v1/rmas", json=body)
        assert created.status_code == 201, created.text
        path = f"/v1/rmas/{created.json()['id']}"
        refused = await wait_for(http, path, lambda b: b["carrier_error"] is not None)
        assert refused["status"] == "awaiting_return"
        assert refused["shipments"] == [] and refused["documents"] == []
        assert refused["carrier_error"] == {
            "code": "ADDRESS.VERIFY.FAILURE",
            "message": "Unable to verify address.",
            "direction": "inbound",
            "errors": [{"field": "street1", "message": "Address not found"}],
        }
        entry = next(e for e in refused["timeline"] if e["event"] == "carrier_error")
        assert entry["actor"] == "carrier" and entry["detail"]["code"] == "ADDRESS.VERIFY.FAILURE"

        # Retried as it was: refused again, shown again.
        again = await http.post(f"{path}/retry-shipping")
        assert again.status_code == 200, again.text
        refused = await wait_for(
            http,
            path,
            lambda b: (
                [e["event"] for e in b["timeline"]].count("carrier_error") == 2
                and b["carrier_error"] is not None
            ),
        )

        fixed_address = {**body["customer"]["address"], "line1": "12 Analytical Row"}
        bad = await http.post(f"{path}/retry-shipping", json={"address": {"line1": ""}})
        assert_problem(bad, 422, "validation_error")
        retried = await http.post(f"{path}/retry-shipping", json={"address": fixed_address})
        assert retried.status_code == 200, retried.text
        rma = await wait_for(http, path, with_label)
        assert rma["carrier_error"] is None
        events = [e["event"] for e in rma["timeline"]]
        assert events.count("shipping_retried") == 2
        assert events.index("shipping_retried") < events.index("label_created")
        label = pdf_text(await label_of(http, rma, "return_label"))
        assert rma["shipments"][0]["tracking_number"] in label
        # Nothing waits for a retry now: out of order.
        late = await http.post(f"{path}/retry-shipping")
        assert_problem(late, 409, "invalid_transition")
    await replays(easypost.stack, rma["id"])
    shipment = easypost.stub.by_tracking_code(rma["shipments"][0]["tracking_number"])
    assert shipment["from_address"]["street1"] == "12 Analytical Row"
    assert shipment["reference"].endswith("/inbound-shipment-retry-2")
    row = await easypost.shipment_row(shipment["tracking_code"])
    assert row.from_address["line1"] == "12 Analytical Row"


async def test_a_repair_on_easypost_ships_in_on_easyposts_label(easypost: EasyPostWorld) -> None:
    category = f"coffee-{uuid.uuid4().hex[:6]}"
    shop, sku = await easypost.retailer(category=category)
    await new_center(easypost.stack, category)
    async with easypost.stack.http(shop.key) as http:
        created = await http.post("/v1/repairs", json=repair_body(sku))
        assert created.status_code == 201, created.text
        path = f"/v1/repairs/{created.json()['id']}"
        job = await wait_for(http, path, lambda b: bool(b["documents"]) and bool(b["shipments"]))
        tracking = job["shipments"][0]["tracking_number"]
        assert LABEL_MARK in pdf_text(await label_of(http, job, "return_label"))
    shipment = easypost.stub.by_tracking_code(tracking)
    assert shipment["is_return"] is True and easypost.stub.buys_of(shipment["id"]) == 1

    moved = await easypost.tracker(tracking, "in_transit")
    assert moved.status_code == 200, moved.text
    async with easypost.stack.http(shop.key) as http:
        await wait_for(
            http, path, lambda b: any(e["event"].startswith("carrier_") for e in b["timeline"])
        )


async def test_an_advance_replacement_ships_both_ways_on_easypost(easypost: EasyPostWorld) -> None:
    shop, sku = await easypost.retailer()
    async with easypost.stack.http(shop.key) as http:
        put = await http.put(f"/v1/inventory/{sku}", json={"quantity": 2})
        assert put.status_code == 200, put.text
        created = await http.post(
            "/v1/replacements", json=replacement_body(sku, mode="advance", payment_method="pm_ok")
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["status"] == "shipped", body
        path = f"/v1/replacements/{body['id']}"
        outbound = next(s for s in body["shipments"] if s["direction"] == "outbound")
        sent = easypost.stub.by_tracking_code(outbound["tracking_number"])
        assert sent["is_return"] is False
        assert LABEL_MARK in pdf_text(await label_of(http, body, "shipping_label"))

    delivered = await easypost.tracker(outbound["tracking_number"], "delivered")
    assert delivered.status_code == 200, delivered.text
    async with easypost.stack.http(shop.key) as http:
        waiting = await wait_for(
            http, path, lambda b: b["status"] == "awaiting_core" and len(b["shipments"]) == 2
        )
        core = next(s for s in waiting["shipments"] if s["direction"] == "inbound")
        core_label = pdf_text(await label_of(http, waiting, "return_label"))
        assert LABEL_MARK in core_label and core["tracking_number"] in core_label
    assert easypost.stub.by_tracking_code(core["tracking_number"])["is_return"] is True


async def test_an_rma_cancelled_while_its_refused_booking_waits_ends_without_a_label(
    easypost: EasyPostWorld,
) -> None:
    shop, sku = await easypost.retailer()
    body = rma_body(sku)
    body["customer"]["address"]["line1"] = "9 BAD Lane"
    async with easypost.stack.http(shop.key) as http:
        created = await http.post("/v1/rmas", json=body)
        path = f"/v1/rmas/{created.json()['id']}"
        await wait_for(http, path, lambda b: b["carrier_error"] is not None)
        cancelled = await http.post(f"{path}/cancel", json={"reason": "customer kept it"})
        assert cancelled.status_code == 200, cancelled.text
        rma = cancelled.json()
        assert rma["status"] == "cancelled"
        assert rma["carrier_error"] is None
        assert rma["shipments"] == [] and rma["documents"] == []
        events = [e["event"] for e in rma["timeline"]]
        assert events[-3:] == ["carrier_error", "shipping_abandoned", "cancelled"]
        assert_problem(await http.post(f"{path}/retry-shipping"), 409, "invalid_transition")
    await replays(easypost.stack, rma["id"])


async def test_a_service_plans_claims_book_their_parcels_on_easypost(
    easypost: EasyPostWorld,
) -> None:
    category = f"kettle-{uuid.uuid4().hex[:6]}"
    shop, sku = await easypost.retailer(category=category)
    await new_center(easypost.stack, category)
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with easypost.stack.http(shop.key) as http:
        made = await http.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert made.status_code == 201, made.text
        put = await http.put(f"/v1/inventory/{sku}", json={"quantity": 1})
        assert put.status_code == 200, put.text
        enrolled = await http.post(
            "/v1/service-plans", json=enrolment(code, sku, f"SN-{uuid.uuid4().hex[:8]}")
        )
        assert enrolled.status_code == 201, enrolled.text
        assert enrolled.json()["status"] == "active", enrolled.text
        claims = f"/v1/service-plans/{enrolled.json()['id']}/claims"

        # A breakdown claimed as a repair: the unit ships in to the center on EasyPost.
        repair_claim = await http.post(claims, json={"type": "repair", "incident": "breakdown"})
        assert repair_claim.status_code == 201, repair_claim.text
        assert repair_claim.json()["decision"] == "approved", repair_claim.text
        job = await wait_for(
            http,
            f"/v1/repairs/{repair_claim.json()['repair_id']}",
            lambda b: (
                bool(b.get("shipments"))
                and any(d["kind"] == "return_label" for d in b.get("documents", []))
            ),
        )
        assert job["coverage"] == "service_plan"
        inbound = job["shipments"][0]
        assert (inbound["direction"], inbound["carrier"]) == ("inbound", "USPS")
        repair_label = pdf_text(await label_of(http, job, "return_label"))
        assert LABEL_MARK in repair_label and inbound["tracking_number"] in repair_label

        # Accidental damage claimed as a replacement: a unit from stock ships out on EasyPost.
        replacement_claim = await http.post(
            claims, json={"type": "replacement", "incident": "accidental_damage"}
        )
        assert replacement_claim.status_code == 201, replacement_claim.text
        assert replacement_claim.json()["decision"] == "approved", replacement_claim.text
        swap = await wait_for(
            http,
            f"/v1/replacements/{replacement_claim.json()['replacement_id']}",
            lambda b: (
                any(s["direction"] == "outbound" for s in b.get("shipments", []))
                and any(d["kind"] == "shipping_label" for d in b.get("documents", []))
            ),
        )
        outbound = next(s for s in swap["shipments"] if s["direction"] == "outbound")
        shipping_label = pdf_text(await label_of(http, swap, "shipping_label"))
        assert LABEL_MARK in shipping_label and outbound["tracking_number"] in shipping_label

    # Each parcel was bought once, under the claim's case, the right way round.
    collected = easypost.stub.by_tracking_code(inbound["tracking_number"])
    sent = easypost.stub.by_tracking_code(outbound["tracking_number"])
    assert (collected["is_return"], sent["is_return"]) == (True, False)
    assert [easypost.stub.buys_of(s["id"]) for s in (collected, sent)] == [1, 1]
    assert job["id"] in collected["reference"]
    assert swap["id"] in sent["reference"]
    assert (collected["parcel"]["weight"], sent["parcel"]["weight"]) == (88.2, 88.2)
