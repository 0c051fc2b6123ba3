"""`Idempotency-Key` on setup commands while a request with the key is still running: one
request at a time runs the command. Another with the same key waits for its answer and gives
the same one (a webhook's secret rotated once, a delivery sent again once), or, when the
first takes too long, is 409 `idempotency_key_in_use` with Retry-After and changes nothing.
A request that died holding its key holds it only for a lease; a refused command gives its
key back at once. End to end on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from api import idempotency
from api.routes import inventory, webhooks
from db import models
from db.session import make_engine, make_sessionmaker
from db.types import utcnow
from tests.api.helpers import make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import new_retailer
from tests.api.test_setup_idempotency import failed_delivery, keyed, same_answer
from tests.api.test_webhook_signatures_e2e import new_rma_events, standard_ok
from tests.api.test_webhooks_e2e import deliveries, subscribe
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.support import ADMIN_KEY, Stack

# Long enough for a request that should be answered at once to be seen still waiting.
STILL_WAITING = 0.5


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as running:
        yield running


@dataclass
class Gate:
    """A step of a command, held until the test opens the gate: the request taking the
    step holds its Idempotency-Key meanwhile. `calls` counts the times the step ran."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0

    async def reached(self) -> None:
        await asyncio.wait_for(self.entered.wait(), 10)


Gates = Callable[[object, str], Gate]


@pytest.fixture
def gates(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gates]:
    """`gates(owner, name)` holds every call of `owner.name` (an async step a route takes
    before it writes). Every gate opens when the test ends: one that failed leaves no
    request held in the server."""
    made: list[Gate] = []

    def gate(owner: object, name: str) -> Gate:
        step: Callable[..., Awaitable[Any]] = getattr(owner, name)
        held = Gate()

        async def gated(*args: Any, **kwargs: Any) -> Any:
            held.calls += 1
            held.entered.set()
            await held.opened.wait()
            return await step(*args, **kwargs)

        monkeypatch.setattr(owner, name, gated)
        made.append(held)
        return held

    yield gate
    for held in made:
        held.opened.set()


async def while_held(
    held: Gate, first: Callable[[], Awaitable[httpx.Response]], second: Awaitable[httpx.Response]
) -> tuple[httpx.Response, httpx.Response]:
    """Send `first`, and `second` once `first` holds its key inside the gated step; check
    that `second` waits rather than answering, then open the gate and answer both."""
    holding = asyncio.ensure_future(first())
    await held.reached()
    waiting = asyncio.ensure_future(second)
    await asyncio.sleep(STILL_WAITING)
    assert not waiting.done(), waiting.result().text
    held.opened.set()
    one, two = await asyncio.gather(holding, waiting)
    return one, two


async def set_reservation(stack: Stack, org_id: str, **values: Any) -> None:
    """Change the organisation's setup command records (the one a test made) in place."""
    table = models.IdempotencyRecord
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            changed = await session.execute(
                update(table)
                .where(
                    table.org_id == org_id,
                    table.resource_id == org_id,
                    table.resource_type == idempotency.COMMAND_RESOURCE,
                )
                .values(**values)
            )
            assert changed.rowcount == 1  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


def ago(delta: timedelta) -> datetime:
    return utcnow() - delta


async def test_a_rotation_sent_twice_at_once_rotates_once(
    stack: Stack, receiver: Receiver, gates: Gates
) -> None:
    retailer, sku = await new_retailer(stack)
    path = f"/ok/{uuid.uuid4().hex}"
    hook = await subscribe(stack, retailer.key, receiver.url(path), ["rma.*"])
    rotating = gates(webhooks, "rotate")
    rotate = f"/v1/webhooks/{hook['id']}/rotate-secret"
    async with stack.http(retailer.key) as http:
        first, second = await while_held(
            rotating,
            lambda: http.post(rotate, headers=keyed("rot-at-once")),
            http.post(rotate, headers=keyed("rot-at-once")),
        )
    assert rotating.calls == 1
    secret = same_answer(first, second, 200)["secret"]
    assert secret != hook["secret"]
    # Rotated once: deliveries are signed with this secret and the one before it. A second
    # rotation would have retired the subscription's first secret at once.
    (delivery, *_) = await new_rma_events(stack, retailer.key, sku, receiver, path)
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    assert standard_ok(secret, delivery) and standard_ok(hook["secret"], delivery)


async def test_a_delivery_sent_again_twice_at_once_is_sent_once(
    stack: Stack, receiver: Receiver, gates: Gates
) -> None:
    retailer, sku = await new_retailer(stack)
    hook, delivery = await failed_delivery(stack, retailer.key, sku, receiver)
    sending = gates(webhooks, "lock_delivery")
    path = f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    async with stack.http(retailer.key) as http:
        first, second = await while_held(
            sending,
            lambda: http.post(path, headers=keyed("again-at-once")),
            http.post(path, headers=keyed("again-at-once")),
        )
    assert sending.calls == 1
    sent = same_answer(first, second, 202)
    assert sent["status"] == "pending" and sent["redeliveries"] == 1
    (logged,) = await deliveries(stack, retailer.key, hook["id"])
    assert logged["redeliveries"] == 1


async def test_a_key_held_too_long_is_in_use_then_answers_the_first_answer(
    stack: Stack, gates: Gates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "IN_FLIGHT_WAIT_SECONDS", 0.3)
    retailer, sku = await new_retailer(stack)
    stocking = gates(inventory, "set_on_hand")
    path = f"/v1/inventory/{sku}"
    async with stack.http(retailer.key) as http:
        holding = asyncio.ensure_future(
            http.put(path, json={"quantity": 5}, headers=keyed("stock-held"))
        )
        await stocking.reached()
        busy = await http.put(
            path, json={"quantity": 5}, headers=keyed("stock-held"), timeout=STILL_WAITING * 20
        )
        assert_problem(busy, 409, "idempotency_key_in_use")
        assert int(busy.headers["Retry-After"]) >= 1
        assert stocking.calls == 1  # the busy request set nothing
        # Another body is told apart at once, held key or not.
        other = await http.put(path, json={"quantity": 6}, headers=keyed("stock-held"))
        assert_problem(other, 409, "idempotency_conflict")

        stocking.opened.set()
        first = await holding
        assert first.status_code == 200 and first.json()["quantity"] == 5, first.text
        changed = await http.put(path, json={"quantity": 3})
        assert changed.status_code == 200, changed.text
        retry = await http.put(path, json={"quantity": 5}, headers=keyed("stock-held"))
        assert same_answer(first, retry, 200)["quantity"] == 5
        assert (await http.get(path)).json()["quantity"] == 3
    assert stocking.calls == 2  # the change without a key, and the first request


async def test_a_reservation_its_request_left_is_taken_over_after_its_lease(
    stack: Stack, gates: Gates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "IN_FLIGHT_WAIT_SECONDS", 0.3)
    retailer, sku = await new_retailer(stack)
    path = f"/v1/inventory/{sku}"
    async with stack.http(retailer.key) as http:
        first = await http.put(path, json={"quantity": 5}, headers=keyed("stock-left"))
        assert first.status_code == 200, first.text
        changed = await http.put(path, json={"quantity": 3})
        assert changed.status_code == 200, changed.text

        # As if the keyed request had died before answering, moments ago: still its key.
        await set_reservation(stack, retailer.id, response=None, created_at=utcnow())
        young = await http.put(path, json={"quantity": 5}, headers=keyed("stock-left"))
        assert_problem(young, 409, "idempotency_key_in_use")
        assert (await http.get(path)).json()["quantity"] == 3

        # Its lease over: the next request with the key runs the command, and of two at
        # once only one does.
        lapsed = idempotency.RESERVATION_LEASE + timedelta(seconds=1)
        await set_reservation(stack, retailer.id, created_at=ago(lapsed))
        monkeypatch.setattr(idempotency, "IN_FLIGHT_WAIT_SECONDS", 10.0)
        stocking = gates(inventory, "set_on_hand")

        def put() -> Awaitable[httpx.Response]:
            return http.put(path, json={"quantity": 5}, headers=keyed("stock-left"))

        one, two = await while_held(stocking, put, put())
    assert stocking.calls == 1
    assert same_answer(one, two, 200)["quantity"] == 5
    async with stack.http(retailer.key) as http:
        assert (await http.get(path)).json()["quantity"] == 5


async def test_a_refused_command_gives_its_key_back_for_the_same_request(stack: Stack) -> None:
    name = f"Keyed {uuid.uuid4().hex[:6]}"
    async with stack.http(ADMIN_KEY) as admin:
        holder = (await admin.post("/v1/orgs", json={"name": name, "kind": "retailer"})).json()
    shop = await make_org(stack, "retailer")
    wanted = {"slug": holder["slug"]}
    path = f"/v1/orgs/{shop.id}"
    async with stack.http(shop.key) as http:
        taken = await http.patch(path, json=wanted, headers=keyed("slug-1"))
        assert_problem(taken, 409, "slug_taken")
        # The key still stands for that request: another body with it is refused...
        other = await http.patch(
            path, json={"slug": f"x-{uuid.uuid4().hex[:6]}"}, headers=keyed("slug-1")
        )
        assert_problem(other, 409, "idempotency_conflict")
        # ...and the same request runs again at once (the key is not held for a lease).
        again = await http.patch(path, json=wanted, headers=keyed("slug-1"))
        assert_problem(again, 409, "slug_taken")
    async with stack.http(ADMIN_KEY) as admin:
        moved = await admin.patch(
            f"/v1/orgs/{holder['id']}", json={"slug": f"moved-{uuid.uuid4().hex[:6]}"}
        )
        assert moved.status_code == 200, moved.text
    async with stack.http(shop.key) as http:
        done = await http.patch(path, json=wanted, headers=keyed("slug-1"))
        assert done.status_code == 200 and done.json()["slug"] == holder["slug"], done.text
        retry = await http.patch(path, json=wanted, headers=keyed("slug-1"))
        assert same_answer(done, retry, 200)["slug"] == holder["slug"]
