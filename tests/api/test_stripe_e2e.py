"""Stripe end to end over HTTP: the real dev server, worker and API, the retailer's payments
on Stripe (PUT /v1/integrations/payments) and the worker's SDK pointed at the local Stripe
(tests/stubs/stripe.py): an RMA refunded against the order's PaymentIntent, a plan's
charges, a repair claim's deductible and the cancellation refund, an advance replacement's
hold released or captured, a 3-D Secure hold the customer completes, a declined enrolment,
a charge retried after its answer was lost, and the events endpoint's refusals."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.gateways import GatewayCall
from activities.gateways.stripe import StripeGateway
from db import models
from db.session import make_engine, make_sessionmaker
from domain.contracts.payments import PaymentKind
from tests.api.helpers import Org, add_product, make_org, own_stack, wait_for
from tests.api.test_foundation import assert_problem
from tests.api.test_plans import plan
from tests.api.test_replacement_e2e import replacement_body
from tests.api.test_rma_e2e import carrier, rma_body, scan, with_label
from tests.api.test_service_plan_e2e import enrolment
from tests.stubs.stripe import StripeStub, sign
from tests.support import Stack

pytestmark = pytest.mark.e2e

VISA = "pm_card_visa"
DECLINED_CARD = "pm_card_chargeDeclined"
THREE_D_SECURE = "pm_card_authenticationRequired"


@dataclass
class StripeWorld:
    stack: Stack
    stub: StripeStub

    async def retailer(self, price: str = "120.00") -> tuple[Org, str]:
        """A retailer on Stripe with a product of `price`."""
        shop = await make_org(self.stack, "retailer")
        async with self.stack.http(shop.key) as http:
            put = await http.put(
                "/v1/integrations/payments",
                json={
                    "provider": "stripe",
                    "secret_key": self.stub.secret_key,
                    "webhook_secret": self.stub.webhook_secret,
                },
            )
            assert put.status_code == 200, put.text
        product = await add_product(self.stack, shop, price=price)
        return shop, product["sku"]

    async def ledger(self, case_id: str) -> list[models.Payment]:
        engine = make_engine(self.stack.settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                rows = await session.scalars(
                    select(models.Payment)
                    .where(models.Payment.case_id == case_id)
                    .order_by(models.Payment.created_at)
                )
                return list(rows.all())
        finally:
            await engine.dispose()

    def intents_of(self, case_id: str) -> list[dict[str, Any]]:
        return [pi for pi in self.stub.created() if pi["metadata"]["aftersales_case"] == case_id]

    async def post_event(self, event: dict[str, Any], secret: str | None = None) -> httpx.Response:
        # From a thread: the API answering it runs on this test's event loop.
        return await asyncio.to_thread(self.stub.send, event, secret)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stripe_world(
    request: pytest.FixtureRequest,
    dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[StripeWorld]:
    """A stack of the module's own (see `own_stack`) with its worker's Stripe at the local
    stub, whose events come back to the stack's endpoint."""
    stub = StripeStub().start()
    try:
        async with own_stack(
            request, dev_server, tmp_path_factory, "stripe", stripe_api_base=stub.base_url
        ) as stack:
            stub.webhook_url = f"{stack.base_url}/v1/payment-events/stripe"
            yield StripeWorld(stack, stub)
    finally:
        stub.stop()


async def test_an_rma_is_refunded_against_the_orders_payment_intent(
    stripe_world: StripeWorld,
) -> None:
    world = stripe_world
    shop, sku = await world.retailer(price="120.00")
    # The order was paid on the retailer's own Stripe account, before any case.
    order = await StripeGateway(world.stub.secret_key, world.stub.base_url).execute(
        GatewayCall(
            f"shop-order-{uuid.uuid4().hex[:6]}/1",
            PaymentKind.CHARGE,
            Decimal("120.00"),
            "USD",
            VISA,
            1,
        )
    )
    async with world.stack.http(shop.key) as http:
        body = rma_body(sku) | {"payment_reference": order.reference}
        created = await http.post("/v1/rmas", json=body)
        assert created.status_code == 201, created.text
        rma = await wait_for(http, f"/v1/rmas/{created.json()['id']}", with_label)
    tracking = rma["shipments"][0]["tracking_number"]
    assert (await carrier(world.stack, scan(tracking, "delivered"))).status_code == 200
    async with world.stack.http(shop.key) as http:
        path = f"/v1/rmas/{rma['id']}"
        await wait_for(http, path, lambda b: b["status"] == "in_transit")
        assert (await http.post(f"{path}/receive")).status_code == 200
        graded = await http.post(f"{path}/inspection", json={"grade": "A", "serial_matches": True})
        assert graded.status_code == 200, graded.text
        done = await wait_for(http, path, lambda b: b["status"] == "completed")
    assert done["refund"] == {"amount": "120.00", "currency": "USD"}
    (refund,) = [r for r in world.stub.refunds.values() if r["payment_intent"] == order.reference]
    assert refund["amount"] == 12000
    (row,) = await world.ledger(rma["id"])
    assert (row.kind, row.status, row.provider) == ("refund", "succeeded", "stripe")
    assert (row.gateway_reference, row.payment_method) == (refund["id"], order.reference)


async def test_a_plan_charges_a_repair_deductible_and_refunds_the_charge(
    stripe_world: StripeWorld,
) -> None:
    world = stripe_world
    shop, sku = await world.retailer()
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with world.stack.http(shop.key) as http:
        made = await http.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert made.status_code == 201, made.text
        # The first charge's answer is lost once: the retry finds the same PaymentIntent.
        world.stub.fail_next("create", 500, after=True)
        enrolled = await http.post(
            "/v1/service-plans", json=enrolment(code, sku, f"SN-{uuid.uuid4().hex[:8]}", VISA)
        )
        assert enrolled.status_code == 201, enrolled.text
        plan_id = enrolled.json()["id"]
        assert enrolled.json()["status"] == "active"
        (charge,) = world.intents_of(plan_id)
        creates = [
            p
            for _, path, p in world.stub.requests
            if path == "/v1/payment_intents" and p["metadata"]["aftersales_case"] == plan_id
        ]
        assert len(creates) == 2  # the lost answer, and the retry that found it
        assert (charge["amount"], charge["status"]) == (999, "succeeded")

        claim = await http.post(
            f"/v1/service-plans/{plan_id}/claims",
            json={"type": "repair", "incident": "breakdown", "description": "no sound"},
        )
        assert claim.status_code == 201, claim.text
        assert claim.json()["decision"] == "approved" and claim.json()["repair_id"]
        deductible = world.intents_of(plan_id)[-1]
        assert (deductible["amount"], deductible["status"]) == (4900, "succeeded")

        cancelled = await http.post(f"/v1/service-plans/{plan_id}/cancel", json={})
        assert cancelled.status_code == 200, cancelled.text
    ledger = {row.kind: row for row in await world.ledger(plan_id)}
    assert ledger["charge"].gateway_reference == charge["id"]
    assert ledger["deductible"].gateway_reference == deductible["id"]
    # The unused part of the period goes back to the period's charge, not the deductible.
    refund = ledger["refund"]
    assert (refund.status, refund.original_reference) == ("succeeded", charge["id"])
    given_back = world.stub.refunds[refund.gateway_reference]
    assert given_back["payment_intent"] == charge["id"]
    assert Decimal(given_back["amount"]) / 100 == Decimal(cancelled.json()["refund"]["amount"])


async def test_a_declined_card_rejects_the_enrolment(stripe_world: StripeWorld) -> None:
    world = stripe_world
    shop, sku = await world.retailer()
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with world.stack.http(shop.key) as http:
        assert (await http.post("/v1/plans", json=plan(code))).status_code == 201
        enrolled = await http.post(
            "/v1/service-plans",
            json=enrolment(code, sku, f"SN-{uuid.uuid4().hex[:8]}", DECLINED_CARD),
        )
        assert enrolled.status_code == 201, enrolled.text
        assert enrolled.json()["status"] == "rejected"
    (row,) = await world.ledger(enrolled.json()["id"])
    assert row.status == "declined" and "generic_decline" in row.message


async def advance(
    world: StripeWorld, method: str = VISA, core_return_within: str | None = None
) -> tuple[Org, dict[str, Any]]:
    """An advance replacement of an 80.00 unit paid with `method`, as created."""
    shop, sku = await world.retailer(price="80.00")
    async with world.stack.http(shop.key) as http:
        if core_return_within is not None:
            policy = await http.put("/v1/policy", json={"core_return_within": core_return_within})
            assert policy.status_code == 200, policy.text
        put = await http.put(f"/v1/inventory/{sku}", json={"quantity": 1})
        assert put.status_code == 200, put.text
        created = await http.post(
            "/v1/replacements", json=replacement_body(sku, mode="advance", payment_method=method)
        )
        assert created.status_code == 201, created.text
    return shop, created.json()


async def delivered(world: StripeWorld, shop: Org, body: dict[str, Any]) -> None:
    outbound = next(s for s in body["shipments"] if s["direction"] == "outbound")
    scanned = await carrier(world.stack, scan(outbound["tracking_number"], "delivered"))
    assert scanned.status_code == 200
    async with world.stack.http(shop.key) as http:
        await wait_for(
            http, f"/v1/replacements/{body['id']}", lambda b: b["status"] == "awaiting_core"
        )


async def test_an_advance_hold_is_released_when_the_core_comes_back(
    stripe_world: StripeWorld,
) -> None:
    world = stripe_world
    shop, body = await advance(world)
    assert body["status"] == "shipped" and body["hold"]["status"] == "held"
    (hold,) = world.intents_of(body["id"])
    assert (hold["capture_method"], hold["status"], hold["amount"]) == (
        "manual",
        "requires_capture",
        8000,
    )
    await delivered(world, shop, body)
    async with world.stack.http(shop.key) as http:
        back = await http.post(f"/v1/replacements/{body['id']}/core-received")
        assert back.status_code == 200, back.text
        assert back.json()["hold"]["status"] == "released"
    assert world.stub.intents[hold["id"]]["status"] == "canceled"
    release = next(r for r in await world.ledger(body["id"]) if r.kind == "release")
    assert release.original_reference == hold["id"]


async def test_an_advance_hold_is_captured_when_no_core_comes(stripe_world: StripeWorld) -> None:
    world = stripe_world
    shop, body = await advance(world, core_return_within="PT2S")
    await delivered(world, shop, body)
    async with world.stack.http(shop.key) as http:
        done = await wait_for(
            http, f"/v1/replacements/{body['id']}", lambda b: b["status"] == "completed"
        )
    assert done["core_charged"] is True
    (hold,) = world.intents_of(body["id"])
    assert (hold["status"], hold["amount_received"]) == ("succeeded", 8000)
    capture = next(r for r in await world.ledger(body["id"]) if r.kind == "capture")
    assert (capture.original_reference, capture.status) == (hold["id"], "succeeded")


async def test_a_3d_secure_hold_completed_by_the_customer(stripe_world: StripeWorld) -> None:
    world = stripe_world
    shop, body = await advance(world, THREE_D_SECURE)
    path = f"/v1/replacements/{body['id']}"
    async with world.stack.http(shop.key) as http:
        waiting = await wait_for(http, path, lambda b: b.get("payment_action") is not None)
    url = waiting["payment_action"]["url"]
    (intent,) = world.intents_of(body["id"])
    assert url == f"{world.stub.base_url}/authenticate/{intent['id']}"
    assert intent["status"] == "requires_action"
    assert waiting["shipments"] == []
    # The customer passes 3-D Secure on the bank's page and comes back to their tracking page;
    # Stripe's signed payment_intent.succeeded reaches the case.
    passed = await asyncio.to_thread(
        httpx.post, url, data={"outcome": "succeed"}, follow_redirects=False
    )
    assert passed.status_code == 303
    assert passed.headers["location"].startswith(
        f"{world.stack.base_url}/track/{body['tracking_token']}"
    )
    async with world.stack.http(shop.key) as http:
        shipped = await wait_for(http, path, lambda b: b["status"] == "shipped")
    assert shipped["hold"]["status"] == "held" and shipped.get("payment_action") is None
    (row,) = [r for r in await world.ledger(body["id"]) if r.kind == "hold"]
    assert (row.status, row.gateway_reference, row.action_url) == ("succeeded", intent["id"], "")


async def test_the_events_endpoint_verifies_dedupes_and_ignores(stripe_world: StripeWorld) -> None:
    world = stripe_world
    _, body = await advance(world)
    (hold,) = world.intents_of(body["id"])
    event = world.stub.event_for("payment_intent.succeeded", hold["id"])

    refused = await world.post_event(event, secret="whsec_someone_else")
    assert_problem(refused, 401, "invalid_signature")
    stale = await asyncio.to_thread(
        httpx.post,
        world.stub.webhook_url,
        content=json.dumps(event).encode(),
        headers={
            "Stripe-Signature": sign(world.stub.webhook_secret, json.dumps(event).encode(), at=1)
        },
    )
    assert_problem(stale, 401, "invalid_signature")
    unsigned = await asyncio.to_thread(httpx.post, world.stub.webhook_url, json=event)
    assert_problem(unsigned, 401, "invalid_signature")

    # The hold was answered already: the event is recorded, once, and settles nothing.
    first = await world.post_event(event)
    assert first.status_code == 200, first.text
    assert first.json() == {"event_id": event["id"], "outcome": "recorded"}
    again = await world.post_event(event)
    assert again.json() == {"event_id": event["id"], "outcome": "duplicate"}

    # A payment of the retailer's own shop on the same account: not ours, acknowledged.
    foreign = dict(
        event,
        id="evt_foreign",
        data={"object": dict(event["data"]["object"], id="pi_shop", metadata={})},
    )
    ignored = await world.post_event(foreign)
    assert ignored.json() == {"event_id": None, "outcome": "ignored"}
    async with world.stack.http() as anonymous:
        unknown = await anonymous.post("/v1/payment-events/adyen", content=b"{}")
        assert unknown.status_code == 404
