"""A new case whose random id is already another organisation's case (forced here by
fixing the id generator of the API running in this process) is refused with a retryable
503, never answered with the other organisation's case; the retry draws a fresh id."""

from __future__ import annotations

import uuid

import pytest

from api.routes import rmas
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import new_retailer, rma_body
from tests.support import Stack


async def test_a_colliding_id_never_answers_another_orgs_case(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs, their_sku = await new_retailer(stack)
    ours, our_sku = await new_retailer(stack)
    async with stack.http(theirs.key) as them:
        answer = await them.post("/v1/rmas", json=rma_body(their_sku))
        assert answer.status_code == 201, answer.text
        their_rma = answer.json()

    monkeypatch.setattr(rmas, "new_case_id", lambda prefix, year: their_rma["id"])
    key = {"Idempotency-Key": f"collide-{uuid.uuid4().hex}"}
    body = rma_body(our_sku)
    async with stack.http(ours.key) as us:
        collided = await us.post("/v1/rmas", json=body, headers=key)
        assert_problem(collided, 503, "case_id_collision")
        assert collided.headers["Retry-After"]
        bare = await us.post("/v1/rmas", json=rma_body(our_sku))
        assert_problem(bare, 503, "case_id_collision")
        for answer in (collided, bare):
            for secret in (their_rma["tracking_token"], their_rma["order_ref"]):
                assert secret not in answer.text

        monkeypatch.undo()
        retried = await us.post("/v1/rmas", json=body, headers=key)
        assert retried.status_code == 201, retried.text
        mine = retried.json()
        assert mine["id"] != their_rma["id"]
        assert (mine["order_ref"], mine["status"]) == (body["order_ref"], "awaiting_return")
        assert_problem(await us.get(f"/v1/rmas/{their_rma['id']}"), 404, "not_found")

    async with stack.http(theirs.key) as them:
        still = (await them.get(f"/v1/rmas/{their_rma['id']}")).json()
        assert (still["order_ref"], still["tracking_token"]) == (
            their_rma["order_ref"],
            their_rma["tracking_token"],
        )
        assert [e["event"] for e in still["timeline"]][:1] == [
            e["event"] for e in their_rma["timeline"]
        ][:1]
