"""The customer's rating of an ended case, end to end over HTTP with the real dev server,
worker and API on SQLite and PostgreSQL: asked by the last email and the tracking page,
refused before the case ends and a second time, once per Idempotency-Key, on the owner's
view only, listed per tenant, flagged for follow-up when low, and sent as a
`feedback.received` webhook through the delivery queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db import models
from db.feedback import follow_ups_waiting
from domain.feedback import FEEDBACK_RECEIVED
from domain.notifications import Notice, notice_for
from tests.api.helpers import Org, add_product, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_repair_e2e import new_center, repair_body
from tests.api.test_rma_e2e import rma_body
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.support import Stack, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as running:
        yield running


async def open_rma(stack: Stack, shop: Org, sku: str) -> dict[str, Any]:
    async with stack.http(shop.key) as http:
        answer = await http.post("/v1/rmas", json=rma_body(sku))
        assert answer.status_code == 201, answer.text
        rma: dict[str, Any] = answer.json()
        assert rma["status"] == "awaiting_return", rma
        return rma


async def cancelled(stack: Stack, shop: Org, rma: dict[str, Any]) -> dict[str, Any]:
    async with stack.http(shop.key) as http:
        answer = await http.post(f"/v1/rmas/{rma['id']}/cancel")
        assert answer.status_code == 200, answer.text
        return await wait_for(http, f"/v1/rmas/{rma['id']}", lambda b: b["status"] == "cancelled")


def rate(http: httpx.AsyncClient, token: str, rating: Any, comment: str = "", **headers: str):  # type: ignore[no-untyped-def]
    return http.post(
        f"/v1/track/{token}/feedback", json={"rating": rating, "comment": comment}, headers=headers
    )


async def test_rated_once_after_the_case_ends_flagged_and_sent_as_a_webhook(
    stack: Stack, sessions: Sessions, receiver: Receiver
) -> None:
    shop = await make_org(stack, "retailer")
    stranger = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    path = f"/ok/feedback-{uuid.uuid4().hex[:6]}"
    async with stack.http(shop.key) as http:
        hook = await http.post(
            "/v1/webhooks", json={"url": receiver.url(path), "events": ["feedback.*"]}
        )
        assert hook.status_code == 201, hook.text
    rma = await open_rma(stack, shop, sku)
    token = rma["tracking_token"]

    async with stack.http() as customer:
        early = await rate(customer, token, 4)
        assert early.status_code == 409, early.text
        assert early.json()["code"] == "case_not_finished"
        tracking = (await customer.get(f"/v1/track/{token}")).json()
        assert "give_feedback" not in [a["action"] for a in tracking["actions"]]

        await cancelled(stack, shop, rma)
        tracking = (await customer.get(f"/v1/track/{token}")).json()
        assert [a["action"] for a in tracking["actions"]] == ["give_feedback"]

        first = await rate(customer, token, 2, "Nobody called back.", **{"Idempotency-Key": "k1"})
        assert first.status_code == 201, first.text
        given = first.json()
        assert (given["rating"], given["comment"], given["needs_follow_up"]) == (
            2,
            "Nobody called back.",
            True,
        )
        again = await rate(customer, token, 2, "Nobody called back.", **{"Idempotency-Key": "k1"})
        assert again.status_code == 201 and again.json()["id"] == given["id"]
        other_key = await rate(customer, token, 5, **{"Idempotency-Key": "k2"})
        assert other_key.status_code == 409
        assert other_key.json()["code"] == "feedback_already_given"
        twice = await rate(customer, token, 5)
        assert twice.status_code == 409 and twice.json()["code"] == "feedback_already_given"
        tracking = (await customer.get(f"/v1/track/{token}")).json()
        assert tracking["actions"] == []

    async with stack.http(shop.key) as http:
        view = (await http.get(f"/v1/rmas/{rma['id']}")).json()
        assert view["feedback"]["id"] == given["id"]
        assert view["feedback"]["needs_follow_up"] is True
        listed = (await http.get("/v1/feedback", params={"max_rating": 2})).json()["items"]
        assert [f["case_id"] for f in listed] == [rma["id"]]
        assert (await http.get("/v1/feedback", params={"max_rating": 1})).json()["items"] == []
        later = (await http.get("/v1/feedback", params={"from": given["created_at"]})).json()
        assert [f["id"] for f in later["items"]] == [given["id"]]
        before = (await http.get("/v1/feedback", params={"to": given["created_at"]})).json()
        assert before["items"] == []
    async with stack.http(stranger.key) as http:
        assert (await http.get("/v1/feedback")).json()["items"] == []
        assert (await http.get(f"/v1/rmas/{rma['id']}")).status_code == 404

    async with sessions() as session:
        assert await follow_ups_waiting(session, shop.id) == 1
        assert await follow_ups_waiting(session, stranger.id) == 0

    events = await eventually(
        lambda: _accepted(receiver, path), what="the feedback.received webhook", every=0.1
    )
    assert len(events) == 1
    event = events[0]
    assert event["type"] == FEEDBACK_RECEIVED
    assert event["case_id"] == rma["id"]
    assert event["data"]["rating"] == 2 and event["data"]["needs_follow_up"] is True


async def _accepted(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    return receiver.accepted(path)


async def test_the_last_email_asks_for_a_rating(stack: Stack, sessions: Sessions) -> None:
    shop = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    rma = await cancelled(stack, shop, await open_rma(stack, shop, sku))

    async def closing() -> list[models.Email]:
        async with sessions() as session:
            return list(
                await session.scalars(
                    select(models.Email).where(
                        models.Email.case_id == rma["id"], models.Email.notice == "case_closed"
                    )
                )
            )

    (email,) = await eventually(closing, what="the case_closed email", every=0.1)
    assert f"/track/{rma['tracking_token']}#feedback" in email.body
    assert "rate us from 1 to 5" in email.body
    # A case another carries on for the customer (an RMA's repair) leaves the ask to it.
    assert notice_for("repair", "cancelled", "cancelled", "received", True) is None
    assert notice_for("repair", "cancelled", "cancelled", "received", False) is Notice.CASE_CLOSED
    assert notice_for("rma", "completed", "completed", "completed", False) is None


async def test_a_repair_center_lists_the_feedback_on_its_jobs(stack: Stack) -> None:
    category = f"fb-{uuid.uuid4().hex[:6]}"
    shop = await make_org(stack, "retailer")
    center = await new_center(stack, category)
    other_center = await new_center(stack, f"{category}-x")
    sku = (await add_product(stack, shop, category=category))["sku"]
    async with stack.http(shop.key) as http:
        answer = await http.post("/v1/repairs", json=repair_body(sku))
        assert answer.status_code == 201, answer.text
        repair = answer.json()
        assert repair["assigned_center"] == center.id
        cancel = await http.post(f"/v1/repairs/{repair['id']}/cancel", json={"reason": "sold"})
        assert cancel.status_code == 200, cancel.text
        await wait_for(http, f"/v1/repairs/{repair['id']}", lambda b: b["status"] == "cancelled")
    rma = await cancelled(stack, shop, await open_rma(stack, shop, sku))
    async with stack.http() as customer:
        assert (await rate(customer, repair["tracking_token"], 5, "Quick")).status_code == 201
        assert (await rate(customer, rma["tracking_token"], 3)).status_code == 201

    async with stack.http(center.key) as http:
        items = (await http.get("/v1/feedback")).json()["items"]
        assert [(f["case_id"], f["rating"]) for f in items] == [(repair["id"], 5)]
        # The worker's view of the job carries no feedback: it is the retailer's.
        job = (await http.get(f"/v1/repairs/{repair['id']}")).json()
        assert job["feedback"] is None
    async with stack.http(other_center.key) as http:
        assert (await http.get("/v1/feedback")).json()["items"] == []
    async with stack.http(shop.key) as http:
        page = (await http.get("/v1/feedback", params={"limit": 1})).json()
        assert [f["case_id"] for f in page["items"]] == [rma["id"]]  # newest first
        rest = (await http.get("/v1/feedback", params={"cursor": page["next_cursor"]})).json()
        assert [f["case_id"] for f in rest["items"]] == [repair["id"]]
        assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"rating": 4, "comment": "bad\x00byte"}, "comment"),
        ({"rating": 4, "comment": "x" * 2001}, "comment"),
        ({"rating": 4, "extra": 1}, "extra"),
    ],
)
async def test_bad_feedback_is_a_422_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    async with stack.http() as customer:
        answer = await customer.post("/v1/track/unknown-token/feedback", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "validation_error"
        assert field in answer.text
        unknown = await customer.post("/v1/track/unknown-token/feedback", json={"rating": 3})
        assert unknown.status_code == 404


async def test_the_tracking_page_form(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    open_one = await open_rma(stack, shop, sku)
    rma = await cancelled(stack, shop, await open_rma(stack, shop, sku))
    token = rma["tracking_token"]
    async with stack.http() as browser:
        assert (
            'id="feedback"' not in (await browser.get(f"/track/{open_one['tracking_token']}")).text
        )
        page = await browser.get(f"/track/{token}")
        assert 'action="/track/' in page.text and 'name="rating"' in page.text
        refused = await browser.post(f"/track/{token}/feedback", data={"rating": "9"})
        assert refused.status_code == 422 and 'role="alert"' in refused.text
        sent = await browser.post(
            f"/track/{token}/feedback",
            data={"rating": "4", "comment": "Fine", "idempotency_key": "form-1"},
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/track/{token}#feedback"
        resent = await browser.post(
            f"/track/{token}/feedback",
            data={"rating": "4", "comment": "Fine", "idempotency_key": "form-1"},
        )
        assert resent.status_code == 303  # a double-click is one rating
        again = await browser.post(f"/track/{token}/feedback", data={"rating": "1"})
        assert again.status_code == 409 and "already rated" in again.text
        page = await browser.get(f"/track/{token}")
        assert "Thank you for your rating" in page.text and 'name="rating"' not in page.text
    async with stack.http(shop.key) as http:
        view = (await http.get(f"/v1/rmas/{rma['id']}")).json()
        assert (view["feedback"]["rating"], view["feedback"]["comment"]) == (4, "Fine")
