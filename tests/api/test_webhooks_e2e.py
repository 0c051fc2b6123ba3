"""Signed webhooks end to end: a real receiver over HTTP gets every event of a case, signed,
in order and once, through receivers that fail for a while or for good."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.events import event_type
from domain.signatures import verify
from tests.api.helpers import make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import carrier, new_retailer, rma_body, scan, wait_until, with_label
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.support import DELIVERY_RETRY_WINDOW, Stack, eventually, free_port, serve_api

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as running:
        yield running


def expected_types(case_type: str, timeline: list[dict[str, Any]]) -> list[str]:
    """The event types a case's timeline stands for, in order."""
    types, previous = [], None
    for entry in timeline:
        types.append(event_type(case_type, entry["status"], entry["event"], previous))
        previous = entry["status"]
    return types


async def subscribe(stack: Stack, key: str, url: str, events: list[str]) -> dict[str, Any]:
    async with stack.http(key) as http:
        created = await http.post("/v1/webhooks", json={"url": url, "events": events})
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body


async def deliveries(stack: Stack, key: str, webhook_id: str, **params: Any) -> list[Any]:
    async with stack.http(key) as http:
        answer = await http.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params)
        assert answer.status_code == 200, answer.text
        items: list[Any] = answer.json()["items"]
        return items


async def test_every_event_of_a_case_arrives_signed_in_order_and_once(
    stack: Stack, receiver: Receiver
) -> None:
    retailer, sku = await new_retailer(stack)
    path, received_only = f"/ok/{uuid.uuid4().hex}", f"/ok/{uuid.uuid4().hex}"
    everything = await subscribe(stack, retailer.key, receiver.url(path), ["rma.*"])
    narrow = await subscribe(stack, retailer.key, receiver.url(received_only), ["rma.received"])
    assert everything["secret"].startswith("whsec_") and everything["secret"] != narrow["secret"]

    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        rma = await wait_until(http, created.json()["id"], with_label)
        tracking = rma["shipments"][0]["tracking_number"]
        await carrier(stack, scan(tracking, "picked_up"))
        await wait_until(http, rma["id"], lambda b: b["status"] == "in_transit")
        assert (await http.post(f"/v1/rmas/{rma['id']}/receive", json={})).status_code == 200
        rma = (await http.get(f"/v1/rmas/{rma['id']}")).json()

    want = expected_types("rma", rma["timeline"])
    assert want[0] == "rma.awaiting_return" and "rma.received" in want

    async def all_arrived() -> bool:
        return len(receiver.accepted(path)) >= len(want)

    await eventually(all_arrived, what="every event of the RMA", within=20, every=0.1)
    got = receiver.accepted(path)
    assert [e["type"] for e in got] == want
    assert [e["data"]["sequence"] for e in got] == list(range(1, len(want) + 1))
    assert len({e["event_id"] for e in got}) == len(got)
    assert {e["case_id"] for e in got} == {rma["id"]} and {e["case_type"] for e in got} == {"rma"}
    assert got[-1]["status"] == "received"
    assert set(got[0]) == {
        "event_id", "type", "case_type", "case_id", "status", "occurred_at", "data"
    }  # fmt: skip

    for request in receiver.seen(path):
        header = request.headers["x-aftersales-signature"]
        assert verify(everything["secret"], request.raw, header, time.time())
        assert not verify(narrow["secret"], request.raw, header, time.time())
        assert not verify(everything["secret"], request.raw + b" ", header, time.time())
        assert request.headers["x-aftersales-event-id"] == request.event["event_id"]
        assert request.headers["x-aftersales-event"] == request.event["type"]

    await eventually(
        lambda: _has(receiver, received_only, 1),
        what="the one rma.received event",
        within=20,
        every=0.1,
    )
    assert [e["type"] for e in receiver.accepted(received_only)] == ["rma.received"]

    log = await deliveries(stack, retailer.key, everything["id"])
    assert len(log) == len(want)
    assert all(d["status"] == "delivered" for d in log)
    assert all([a["status_code"] for a in d["attempts"]] == [200] for d in log)
    assert [d["type"] for d in reversed(log)] == want  # newest first
    pages: list[Any] = []
    cursor = None
    async with stack.http(retailer.key) as http:
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (
                await http.get(f"/v1/webhooks/{everything['id']}/deliveries", params=params)
            ).json()
            pages.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = await http.get(
            f"/v1/webhooks/{everything['id']}/deliveries", params={"cursor": "bm9wZQ=="}
        )
        assert_problem(bad, 422, "invalid_cursor")
    assert [d["id"] for d in pages] == [d["id"] for d in log]


async def _has(receiver: Receiver, path: str, count: int) -> bool:
    return len(receiver.accepted(path)) >= count


async def assert_received(receiver: Receiver, path: str, want: list[str], what: str) -> None:
    """`path` gets exactly the event types `want`, in that order."""
    await eventually(lambda: _has(receiver, path, len(want)), what=what, within=20, every=0.1)
    assert [e["type"] for e in receiver.accepted(path)] == want


async def test_a_receiver_failing_twice_gets_each_event_once_in_order(
    stack: Stack, receiver: Receiver
) -> None:
    retailer, sku = await new_retailer(stack)
    path = f"/flaky/{uuid.uuid4().hex}"
    hook = await subscribe(stack, retailer.key, receiver.url(path), ["*"])
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        rma = await wait_until(http, created.json()["id"], with_label)
        await carrier(stack, scan(rma["shipments"][0]["tracking_number"], "picked_up"))
        rma = await wait_until(http, rma["id"], lambda b: b["status"] == "in_transit")
    want = expected_types("rma", rma["timeline"])

    await eventually(
        lambda: _has(receiver, path, len(want)), what="the flaky receiver", within=30, every=0.1
    )
    accepted = receiver.accepted(path)
    assert [e["type"] for e in accepted] == want
    assert len({e["event_id"] for e in accepted}) == len(accepted) == len(want)
    # Each event was refused twice before it was accepted, and the next one waited for it.
    tries = [r.event["data"]["sequence"] for r in receiver.seen(path)]
    assert tries == [seq for seq in range(1, len(want) + 1) for _ in range(3)]

    log = await deliveries(stack, retailer.key, hook["id"], status="delivered")
    assert len(log) == len(want)
    for delivery in log:
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]
        assert [a["number"] for a in delivery["attempts"]] == [1, 2, 3]


async def test_a_receiver_down_past_the_retry_window_leaves_the_delivery_failed(
    stack: Stack, receiver: Receiver
) -> None:
    retailer, sku = await new_retailer(stack)
    path = f"/down/{uuid.uuid4().hex}"
    hook = await subscribe(stack, retailer.key, receiver.url(path), ["rma.awaiting_return"])
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201

    async def failed() -> bool:
        log = await deliveries(stack, retailer.key, hook["id"])
        return bool(log) and all(d["status"] == "failed" for d in log)

    await eventually(
        failed,
        what="the delivery to fail",
        within=DELIVERY_RETRY_WINDOW.total_seconds() + 20,
        every=0.1,
    )
    (delivery,) = await deliveries(stack, retailer.key, hook["id"])
    assert delivery["type"] == "rma.awaiting_return" and delivery["failed_at"]
    assert len(delivery["attempts"]) >= 3  # retried with backoff, not tried once
    assert {a["status_code"] for a in delivery["attempts"]} == {503}
    assert receiver.accepted(path) == []
    assert await deliveries(stack, retailer.key, hook["id"], status="delivered") == []

    # The receiver is back: the subscriber asks for the event again and gets it once.
    receiver.up.add(path)
    redeliver = f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    async with stack.http(retailer.key) as http:
        again = await http.post(redeliver)
        assert again.status_code == 202, again.text
        assert again.json()["status"] == "pending" and again.json()["redeliveries"] == 1

        async def delivered() -> bool:
            log = await deliveries(stack, retailer.key, hook["id"], status="delivered")
            return len(log) == 1

        await eventually(delivered, what="the redelivery", within=20, every=0.1)
        assert [e["type"] for e in receiver.accepted(path)] == ["rma.awaiting_return"]
        (done,) = await deliveries(stack, retailer.key, hook["id"])
        assert done["failed_at"] is None and done["delivered_at"]
        codes = [a["status_code"] for a in done["attempts"]]
        assert codes[-1] == 200 and set(codes[:-1]) == {503}
        other, _ = await new_retailer(stack)
        async with stack.http(other.key) as stranger:
            assert_problem(await stranger.post(redeliver), 404, "not_found")
        assert (await http.delete(f"/v1/webhooks/{hook['id']}")).status_code == 204
        assert_problem(await http.post(redeliver), 409, "webhook_disabled")


async def test_subscriptions_are_validated_walled_and_idempotent(stack: Stack) -> None:
    retailer, _ = await new_retailer(stack)
    other, _ = await new_retailer(stack)
    center = await make_org(stack, "repair_center")
    url = "https://hooks.example.com/aftersales"
    async with stack.http(retailer.key) as http:
        for body in (
            {"url": url, "events": ["parcel.*"]},
            {"url": url, "events": []},
            {"url": url, "events": ["rma"]},
            {"url": "ftp://example.com", "events": ["*"]},
            {"url": url, "events": ["*"], "extra": 1},
        ):
            assert_problem(await http.post("/v1/webhooks", json=body), 422, "validation_error")
        body = {"url": url, "events": ["rma.*", "repair.completed", "*.cancelled"]}
        first = await http.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "wh-1"})
        again = await http.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "wh-1"})
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert first.json()["secret"] == again.json()["secret"]
        changed = await http.post(
            "/v1/webhooks", json={**body, "url": url + "/2"}, headers={"Idempotency-Key": "wh-1"}
        )
        assert_problem(changed, 409, "idempotency_conflict")
        hook = first.json()
        listed = (await http.get("/v1/webhooks")).json()["items"]
        assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
        assert_problem(
            await http.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status": "x"}),
            422,
            "validation_error",
        )
    async with stack.http(other.key) as http:
        assert_problem(await http.get(f"/v1/webhooks/{hook['id']}/deliveries"), 404, "not_found")
        assert_problem(await http.delete(f"/v1/webhooks/{hook['id']}"), 404, "not_found")
    async with stack.http(center.key) as http:
        assert (
            await http.post("/v1/webhooks", json={"url": url, "events": ["repair.*"]})
        ).is_success
    from tests.support import ADMIN_KEY

    async with stack.http(ADMIN_KEY) as http:
        assert_problem(
            await http.post("/v1/webhooks", json={"url": url, "events": ["*"]}), 403, "forbidden"
        )
    async with stack.http(retailer.key) as http:
        assert (await http.delete(f"/v1/webhooks/{hook['id']}")).status_code == 204
        assert (await http.get(f"/v1/webhooks/{hook['id']}")).json()["disabled_at"]

    # Production refuses webhooks into this machine's networks.
    strict = stack.settings.model_copy(
        update={"webhook_allow_private_targets": False, "api_port": free_port()}
    )
    async with (
        serve_api(strict) as base_url,
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {retailer.key}"}
        ) as http,
    ):
        for private in (
            "http://127.0.0.1:9/x",
            "http://10.1.2.3/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
        ):
            refused = await http.post("/v1/webhooks", json={"url": private, "events": ["*"]})
            assert_problem(refused, 422, "webhook_target_not_public")
        public = await http.post("/v1/webhooks", json={"url": url, "events": ["*"]})
        assert public.status_code == 201, public.text


async def test_a_repair_center_follows_the_jobs_it_works_and_no_others(
    stack: Stack, receiver: Receiver
) -> None:
    from tests.api.helpers import add_product, wait_for
    from tests.api.test_repair_e2e import new_center, repair_body

    category = f"hooks-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category=category)
    center = await new_center(stack, category)
    bystander = await new_center(stack, f"other-{uuid.uuid4().hex[:6]}")
    center_path, shop_path, other_path = (f"/ok/{uuid.uuid4().hex}" for _ in range(3))
    await subscribe(stack, center.key, receiver.url(center_path), ["repair.*"])
    await subscribe(stack, retailer.key, receiver.url(shop_path), ["repair.received"])
    await subscribe(stack, bystander.key, receiver.url(other_path), ["*"])

    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/repairs", json=repair_body(product["sku"]))
        assert created.status_code == 201, created.text
        path = f"/v1/repairs/{created.json()['id']}"
        await wait_for(shop, path, lambda b: bool(b["documents"]))
    async with stack.http(center.key) as bench:
        step = await bench.post(f"{path}/status", json={"status": "received"})
        assert step.status_code == 200, step.text
        job = step.json()

    want = expected_types("repair", job["timeline"])
    await assert_received(receiver, center_path, want, "the center's events")
    assert want[0] == "repair.awaiting_unit" and want[-1] == "repair.received"
    await eventually(
        lambda: _has(receiver, shop_path, 1), what="the retailer's event", within=20, every=0.1
    )
    assert [e["type"] for e in receiver.accepted(shop_path)] == ["repair.received"]
    assert receiver.seen(other_path) == []


async def test_a_center_an_rma_is_routed_to_gets_none_of_the_rmas_events(
    stack: Stack, receiver: Receiver
) -> None:
    """An RMA resolved by repair ships to the center its repair will go to, which then
    works the RMA (receives, inspects) but does not follow it: its subscriptions see the
    repair's events, not the RMA's, however many entries the RMA adds."""
    from tests.api.helpers import add_product
    from tests.api.test_repair_e2e import new_center

    category = f"routed-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category=category)
    center = await new_center(stack, category)
    center_path, shop_path = (f"/ok/{uuid.uuid4().hex}" for _ in range(2))
    await subscribe(stack, center.key, receiver.url(center_path), ["*"])
    await subscribe(stack, retailer.key, receiver.url(shop_path), ["rma.*"])

    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(product["sku"], resolution="repair"))
        assert created.status_code == 201, created.text
        rma = await wait_until(shop, created.json()["id"], with_label)
        inbound = rma["shipments"][0]["tracking_number"]
        # Entries projected once the RMA names the center as its receiver.
        for status in ("in_transit", "delivered"):
            assert (await carrier(stack, scan(inbound, status))).status_code == 200
        done = await wait_until(
            shop,
            rma["id"],
            lambda b: sum(e["actor"].startswith("carrier") for e in b["timeline"]) >= 2,
        )

    await assert_received(
        receiver, shop_path, expected_types("rma", done["timeline"]), "the retailer's events"
    )
    assert receiver.seen(center_path) == []


async def test_redispatch_hands_lost_deliveries_to_their_queues_again(
    stack: Stack, receiver: Receiver
) -> None:
    import os
    import subprocess
    import sys
    from datetime import UTC, datetime

    from db import models
    from db.session import make_engine, make_sessionmaker

    retailer, _ = await new_retailer(stack)
    path = f"/ok/{uuid.uuid4().hex}"
    hook = await subscribe(stack, retailer.key, receiver.url(path), ["*"])
    # A delivery whose queue was lost (say, terminated by an operator): written, never sent.
    case_id = f"RMA-LOST-{uuid.uuid4().hex[:6]}"
    engine = make_engine(stack.settings.database_url)
    async with make_sessionmaker(engine).begin() as session:
        session.add(
            models.WebhookDelivery(
                subscription_id=hook["id"],
                case_id=case_id,
                seq=1,
                event_id=f"evt_{case_id}",
                type="rma.awaiting_return",
                created_at=datetime.now(UTC),
                payload={"event_id": f"evt_{case_id}", "type": "rma.awaiting_return"},
            )
        )
    await engine.dispose()
    env = {
        **os.environ,
        "AFTERSALES_ENV": "development",
        "AFTERSALES_DATABASE_URL": stack.settings.database_url,
        "AFTERSALES_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "AFTERSALES_TASK_QUEUE": stack.settings.task_queue,
        "AFTERSALES_PAYLOAD_KEY": stack.settings.required_payload_key,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "redispatch"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "pending deliveries" in done.stdout
    await eventually(
        lambda: _has(receiver, path, 1), what="the lost delivery", within=20, every=0.1
    )
    assert [e["event_id"] for e in receiver.accepted(path)] == [f"evt_{case_id}"]
    (delivery,) = await deliveries(stack, retailer.key, hook["id"])
    assert delivery["status"] == "delivered"
