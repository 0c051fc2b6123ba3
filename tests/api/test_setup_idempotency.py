"""`Idempotency-Key` on the commands that set up an organisation rather than command a case:
stock, the plan catalog, the repair network and a repair center's profile, and a webhook
delivery sent again. Each, end to end on SQLite and PostgreSQL: the same key again gets the
first answer and has no second effect (a change made in between stays), and the same key
with another body, or for another of these commands, is 409 `idempotency_conflict`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import add_product, make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_plans import plan
from tests.api.test_repair_e2e import new_center, profile
from tests.api.test_rma_e2e import new_retailer, rma_body
from tests.api.test_webhooks_e2e import deliveries, subscribe
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.support import DELIVERY_RETRY_WINDOW, Stack, eventually


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as running:
        yield running


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def same_answer(first: httpx.Response, again: httpx.Response, status: int) -> dict[str, Any]:
    assert first.status_code == status, first.text
    assert again.status_code == status, again.text
    assert again.json() == first.json()
    answer: dict[str, Any] = first.json()
    return answer


async def test_stock_set_once_per_key(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    other = await add_product(stack, retailer)
    path = f"/v1/inventory/{sku}"
    async with stack.http(retailer.key) as http:
        first = await http.put(path, json={"quantity": 5}, headers=keyed("stock-1"))
        # Changed since (without a key): the retry must not set 5 again.
        changed = await http.put(path, json={"quantity": 3})
        assert changed.status_code == 200, changed.text
        again = await http.put(path, json={"quantity": 5}, headers=keyed("stock-1"))
        assert same_answer(first, again, 200)["quantity"] == 5
        assert (await http.get(path)).json()["quantity"] == 3

        for other_path, quantity in ((path, 6), (f"/v1/inventory/{other['sku']}", 5)):
            conflict = await http.put(
                other_path, json={"quantity": quantity}, headers=keyed("stock-1")
            )
            assert_problem(conflict, 409, "idempotency_conflict")
        assert (await http.get(path)).json()["quantity"] == 3
        assert (await http.get(f"/v1/inventory/{other['sku']}")).json()["quantity"] == 0


async def test_a_plan_added_and_changed_once_per_key(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(retailer.key) as http:
        body = plan(code)
        first = await http.post("/v1/plans", json=body, headers=keyed("plan-1"))
        again = await http.post("/v1/plans", json=body, headers=keyed("plan-1"))
        added = same_answer(first, again, 201)
        assert [p["id"] for p in (await http.get("/v1/plans")).json()] == [added["id"]]
        conflict = await http.post("/v1/plans", json=plan(f"{code}-2"), headers=keyed("plan-1"))
        assert_problem(conflict, 409, "idempotency_conflict")
        # Without a key the code is still taken, as before.
        assert_problem(await http.post("/v1/plans", json=body), 409, "duplicate_plan_code")

        terms = {k: v for k, v in plan(code, name="Care 36 Plus").items() if k != "code"}
        path = f"/v1/plans/{code}"
        first = await http.put(path, json=terms, headers=keyed("terms-1"))
        changed = await http.put(path, json={**terms, "name": "Care 36 Max"})
        assert changed.status_code == 200, changed.text
        again = await http.put(path, json=terms, headers=keyed("terms-1"))
        assert same_answer(first, again, 200)["name"] == "Care 36 Plus"
        assert (await http.get(path)).json()["name"] == "Care 36 Max"
        conflict = await http.put(path, json={**terms, "claim_limit": 3}, headers=keyed("terms-1"))
        assert_problem(conflict, 409, "idempotency_conflict")
        # The key sent with another of these commands is another request too.
        other = await http.put("/v1/repair-network", json={"centers": []}, headers=keyed("terms-1"))
        assert_problem(other, 409, "idempotency_conflict")


async def test_the_repair_network_and_a_profile_set_once_per_key(stack: Stack) -> None:
    category = f"idem-{uuid.uuid4().hex[:6]}"
    center = await new_center(stack, category)
    retailer = await make_org(stack, "retailer")
    async with stack.http(retailer.key) as http:
        network = {"centers": [center.id]}
        first = await http.put("/v1/repair-network", json=network, headers=keyed("net-1"))
        cleared = await http.put("/v1/repair-network", json={"centers": []})
        assert cleared.status_code == 200, cleared.text
        again = await http.put("/v1/repair-network", json=network, headers=keyed("net-1"))
        assert same_answer(first, again, 200) == network
        assert (await http.get("/v1/repair-network")).json() == {"centers": []}
        conflict = await http.put(
            "/v1/repair-network", json={"centers": []}, headers=keyed("net-1")
        )
        assert_problem(conflict, 409, "idempotency_conflict")

    async with stack.http(center.key) as http:
        body = profile(category, daily_capacity=4)
        first = await http.put("/v1/repair-centers/me", json=body, headers=keyed("me-1"))
        changed = await http.put("/v1/repair-centers/me", json=profile(category, daily_capacity=7))
        assert changed.status_code == 200, changed.text
        again = await http.put("/v1/repair-centers/me", json=body, headers=keyed("me-1"))
        assert same_answer(first, again, 200)["daily_capacity"] == 4
        assert (await http.get("/v1/repair-centers/me")).json()["daily_capacity"] == 7
        conflict = await http.put(
            "/v1/repair-centers/me", json=profile(category, daily_capacity=5), headers=keyed("me-1")
        )
        assert_problem(conflict, 409, "idempotency_conflict")


async def failed_delivery(
    stack: Stack, key: str, sku: str, receiver: Receiver
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A webhook whose receiver never answers 2xx, and its first delivery once it failed
    (one sent again then stays pending)."""
    hook = await subscribe(
        stack, key, receiver.url(f"/down/{uuid.uuid4().hex}"), ["rma.awaiting_return"]
    )
    async with stack.http(key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text

    async def failed() -> bool:
        log = await deliveries(stack, key, hook["id"])
        return bool(log) and all(d["status"] == "failed" for d in log)

    await eventually(
        failed, what="the delivery to fail", within=DELIVERY_RETRY_WINDOW.total_seconds() + 20
    )
    (delivery,) = await deliveries(stack, key, hook["id"])
    return hook, delivery


async def test_a_delivery_sent_again_once_per_key(stack: Stack, receiver: Receiver) -> None:
    retailer, sku = await new_retailer(stack)
    hook, delivery = await failed_delivery(stack, retailer.key, sku, receiver)
    path = f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    async with stack.http(retailer.key) as http:
        first = await http.post(path, headers=keyed("again-1"))
        again = await http.post(path, headers=keyed("again-1"))
        sent = same_answer(first, again, 202)
        assert sent["status"] == "pending" and sent["redeliveries"] == 1
        (logged,) = await deliveries(stack, retailer.key, hook["id"])
        assert logged["redeliveries"] == 1
        # Without a key, sending a pending delivery again is refused, as before.
        assert_problem(await http.post(path), 409, "delivery_pending")
        other = f"/v1/webhooks/{hook['id']}/deliveries/{uuid.uuid4().hex}/redeliver"
        assert_problem(
            await http.post(other, headers=keyed("again-1")), 409, "idempotency_conflict"
        )
