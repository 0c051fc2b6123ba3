"""Webhook signatures a receiver can check with any library: the Standard Webhooks headers
(verified here with the `standardwebhooks` package, as a receiver would), and a secret
rotation during which deliveries carry signatures with both secrets for 24 hours."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from db import models
from db.session import make_engine, make_sessionmaker
from db.types import utcnow
from domain.signatures import verify
from tests.api.helpers import make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import new_retailer, rma_body
from tests.api.test_webhooks_e2e import subscribe
from tests.api.webhook_receiver import Received, Receiver, webhook_receiver
from tests.support import ADMIN_KEY, Stack, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as running:
        yield running


def standard_ok(secret: str, request: Received) -> bool:
    """What a receiver using the Standard Webhooks library decides."""
    try:
        Webhook(secret).verify(request.raw, request.headers)
    except WebhookVerificationError:
        return False
    return True


def ours_ok(secret: str, request: Received) -> bool:
    return verify(secret, request.raw, request.headers["x-aftersales-signature"], time.time())


async def new_rma_events(
    stack: Stack, key: str, sku: str, receiver: Receiver, path: str
) -> list[Received]:
    """Open an RMA and answer the requests its events brought to `path` (at least one)."""
    async with stack.http(key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
    rma_id = created.json()["id"]

    def of_this_rma() -> list[Received]:
        # Only this case's: a later event of an earlier case may still be on its way.
        return [r for r in receiver.seen(path) if r.event["case_id"] == rma_id]

    async def arrived() -> bool:
        return bool(of_this_rma())

    await eventually(arrived, what="a delivery of the new RMA", within=20, every=0.1)
    return of_this_rma()


async def test_deliveries_verify_with_standard_webhooks_and_through_a_rotation(
    stack: Stack, receiver: Receiver
) -> None:
    retailer, sku = await new_retailer(stack)
    path = f"/ok/{uuid.uuid4().hex}"
    sub = await subscribe(stack, retailer.key, receiver.url(path), ["rma.*"])
    old = sub["secret"]

    (first, *_) = await new_rma_events(stack, retailer.key, sku, receiver, path)
    assert first.headers["webhook-id"] == first.event["event_id"]
    assert abs(int(first.headers["webhook-timestamp"]) - time.time()) < 60
    assert first.headers["webhook-signature"].startswith("v1,")
    assert " " not in first.headers["webhook-signature"]  # one secret, one signature
    assert standard_ok(old, first) and ours_ok(old, first)
    tampered = Received(first.path, first.headers, first.raw + b" ", first.answered)
    assert not standard_ok(old, tampered)

    async with stack.http(retailer.key) as http:
        rotated = await http.post(f"/v1/webhooks/{sub['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    expires = rotated.json()["previous_secret_expires_at"]
    assert expires > (utcnow() + timedelta(hours=23)).isoformat()

    # For the overlap, every delivery is signed with both: receivers switch at their pace.
    (during, *_) = await new_rma_events(stack, retailer.key, sku, receiver, path)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.headers["x-aftersales-signature"].count("v1=") == 2
    for secret in (old, new):
        assert standard_ok(secret, during) and ours_ok(secret, during)

    # A day later the old secret signs nothing any more.
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await session.execute(
                update(models.WebhookSubscription)
                .where(models.WebhookSubscription.id == sub["id"])
                .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        await engine.dispose()
    (after, *_) = await new_rma_events(stack, retailer.key, sku, receiver, path)
    assert " " not in after.headers["webhook-signature"]
    assert after.headers["x-aftersales-signature"].count("v1=") == 1
    assert standard_ok(new, after) and ours_ok(new, after)
    assert not standard_ok(old, after) and not ours_ok(old, after)


async def test_only_the_owner_rotates_a_secret(stack: Stack, receiver: Receiver) -> None:
    retailer = await make_org(stack, "retailer")
    sub = await subscribe(stack, retailer.key, receiver.url("/ok/rotate"), ["rma.*"])
    rotate = f"/v1/webhooks/{sub['id']}/rotate-secret"
    stranger = await make_org(stack, "retailer")
    async with stack.http(stranger.key) as http:
        assert_problem(await http.post(rotate), 404, "not_found")
    async with stack.http(ADMIN_KEY) as http:
        assert_problem(await http.post(rotate), 403, "forbidden")
    async with stack.http(retailer.key) as http:
        assert_problem(await http.post("/v1/webhooks/nope/rotate-secret"), 404, "not_found")
