"""Campaigns end to end over HTTP with the real dev server, worker and API on SQLite and
PostgreSQL: the owners of matching units are found in orders and in cases, each customer
and serial is written to once, the counts follow, a cancel stops what is left, and another
retailer sees none of it."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from tests.api.helpers import Org, add_product, customer, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_rma_e2e import rma_body
from tests.support import Stack, eventually

pytestmark = pytest.mark.e2e


def buyer(n: int) -> dict[str, Any]:
    person = customer(f"Owner{n} Smith")
    person["email"] = f"owner{n}@example.com"
    return person


async def place_order(
    stack: Stack, shop: Org, who: dict[str, Any], lines: list[dict[str, Any]], days_ago: int = 10
) -> None:
    placed = datetime.now(UTC) - timedelta(days=days_ago)
    async with stack.http(shop.key) as http:
        answer = await http.post(
            "/v1/orders",
            json={
                "order_ref": f"SO-{uuid.uuid4().hex[:8]}",
                "placed_at": placed.isoformat(),
                "customer": who,
                "lines": lines,
            },
        )
        assert answer.status_code in (200, 201), answer.text


async def emails_of(sessions: Sessions, campaign_id: str) -> list[models.Email]:
    async with sessions() as session:
        return list(
            await session.scalars(select(models.Email).where(models.Email.case_id == campaign_id))
        )


async def test_every_owner_once_per_serial_with_counts(stack: Stack, sessions: Sessions) -> None:
    shop = await make_org(stack, "retailer")
    stranger = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    other_sku = (await add_product(stack, shop))["sku"]
    # Owner 1 bought two units, owner 2 one (and an unrelated product), owner 3 a unit
    # outside the serial range; owner 2's unit is also in an RMA (the same pair: once).
    await place_order(
        stack, shop, buyer(1), [{"sku": sku, "serial": "BAT-1"}, {"sku": sku, "serial": "BAT-2"}]
    )
    await place_order(
        stack,
        shop,
        buyer(2),
        [{"sku": sku, "serial": "BAT-3"}, {"sku": other_sku, "serial": "BAT-9"}],
    )
    await place_order(stack, shop, buyer(3), [{"sku": sku, "serial": "OLD-1"}])
    body = rma_body(sku, serial="BAT-3")
    body["customer"] = buyer(2)
    # Owner 4 is known from a case only (an RMA, never an order).
    known_from_case = rma_body(sku, serial="BAT-4")
    known_from_case["customer"] = buyer(4)
    async with stack.http(shop.key) as http:
        for rma in (body, known_from_case):
            answer = await http.post("/v1/rmas", json=rma)
            assert answer.status_code == 201, answer.text

        campaign_body = {
            "name": "Battery recall",
            "sku": sku,
            "serial_prefix": "BAT-",
            "subject": "A safety recall for your speaker",
            "message": "Some batteries may overheat.",
            "offer": "none",
        }
        created = await http.post(
            "/v1/campaigns", json=campaign_body, headers={"Idempotency-Key": "recall-1"}
        )
        assert created.status_code == 201, created.text
        campaign = created.json()
        assert campaign["recipients"] == 4 and campaign["status"] == "running"
        again = await http.post(
            "/v1/campaigns", json=campaign_body, headers={"Idempotency-Key": "recall-1"}
        )
        assert again.status_code == 201 and again.json()["id"] == campaign["id"]

        done = await wait_for(
            http, f"/v1/campaigns/{campaign['id']}", lambda b: b["status"] == "completed"
        )
        assert (done["recipients"], done["sent"], done["responses"]) == (4, 4, 0)
        late = await http.post(f"/v1/campaigns/{campaign['id']}/cancel")
        assert late.status_code == 409 and late.json()["code"] == "invalid_transition"

    emails = await emails_of(sessions, campaign["id"])
    pairs = Counter(
        (e.to_address, serial)
        for e in emails
        for serial in ("BAT-1", "BAT-2", "BAT-3", "BAT-4")
        if serial in e.body
    )
    assert pairs == Counter(
        {
            ("owner1@example.com", "BAT-1"): 1,
            ("owner1@example.com", "BAT-2"): 1,
            ("owner2@example.com", "BAT-3"): 1,
            ("owner4@example.com", "BAT-4"): 1,
        }
    )
    assert len(emails) == 4
    first = emails[0]
    assert first.subject == "A safety recall for your speaker"
    assert "Some batteries may overheat." in first.body and "Hello Owner" in first.body
    assert "/returns/" not in first.body  # no offer, no link

    async with stack.http(stranger.key) as http:
        assert (await http.get(f"/v1/campaigns/{campaign['id']}")).status_code == 404
        assert (await http.post(f"/v1/campaigns/{campaign['id']}/cancel")).status_code == 404
        unknown = await http.post("/v1/campaigns", json={**campaign_body, "sku": sku})
        assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_sku"


async def test_purchase_window_and_bad_input(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    await place_order(stack, shop, buyer(1), [{"sku": sku, "serial": "W-1"}], days_ago=100)
    await place_order(stack, shop, buyer(2), [{"sku": sku, "serial": "W-2"}], days_ago=5)
    since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    body = {"name": "n", "sku": sku, "subject": "s", "message": "m", "purchased_from": since}
    async with stack.http(shop.key) as http:
        created = await http.post("/v1/campaigns", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["recipients"] == 1
        for bad, field in (
            ({**body, "name": "x" * 201}, "name"),
            ({**body, "message": "a\x00b"}, "message"),
            ({**body, "offer": "refund"}, "offer"),
            ({**body, "purchased_to": "2000-01-01T00:00:00Z"}, "purchased_from"),
        ):
            answer = await http.post("/v1/campaigns", json=bad)
            assert answer.status_code == 422, answer.text
            assert field in answer.text
        assert (await http.get("/v1/campaigns/nope")).status_code == 404
    center = await make_org(stack, "repair_center")
    async with stack.http(center.key) as http:
        assert (await http.post("/v1/campaigns", json=body)).status_code == 403


async def test_cancel_stops_what_is_left(stack: Stack, sessions: Sessions) -> None:
    shop = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    # More owners than one page a second sends, so the cancel lands mid-way.
    await place_order(
        stack, shop, buyer(1), [{"sku": sku, "serial": f"C-{n:03}"} for n in range(120)]
    )
    async with stack.http(shop.key) as http:
        created = await http.post(
            "/v1/campaigns", json={"name": "n", "sku": sku, "subject": "s", "message": "m"}
        )
        campaign = created.json()
        assert campaign["recipients"] == 120
        # Past the first page: the workflow keeps its pace between pages.
        await wait_for(http, f"/v1/campaigns/{campaign['id']}", lambda b: b["sent"] > 20)
        cancelled = await http.post(f"/v1/campaigns/{campaign['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        again = await http.post(f"/v1/campaigns/{campaign['id']}/cancel")
        assert again.status_code == 200 and again.json()["status"] == "cancelled"
        final = await wait_for(
            http,
            f"/v1/campaigns/{campaign['id']}",
            lambda b: b["status"] == "cancelled" and b["recipients"] == 120,
        )
    assert 20 < final["sent"] < 120
    assert len(await emails_of(sessions, campaign["id"])) == final["sent"]

    async def left_pending() -> int:
        async with sessions() as session:
            rows = await session.scalars(
                select(models.CampaignRecipient.status).where(
                    models.CampaignRecipient.campaign_id == campaign["id"]
                )
            )
            return Counter(rows.all())["pending"]

    # The workflow ended it: whoever was not written to will not be.
    assert await eventually(left_pending, lambda n: n == 0, what="no recipient pending") == 0
