"""`GET /v1/campaigns` over HTTP on SQLite and PostgreSQL: a retailer's own campaigns newest
first, paged by `limit` and `cursor`, filtered by `status`, as CSV on asking; another
retailer's never, and a repair center's key is refused."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.api.helpers import Org, add_product, make_org, wait_for
from tests.api.test_foundation import assert_problem
from tests.support import Stack

pytestmark = pytest.mark.e2e


async def campaign(stack: Stack, shop: Org, sku: str, name: str) -> str:
    async with stack.http(shop.key) as http:
        created = await http.post(
            "/v1/campaigns",
            json={"name": name, "sku": sku, "subject": f"About {name}", "message": "Hello."},
        )
        assert created.status_code == 201, created.text
        # No owner of the unit is known: it completes at once, having written to nobody.
        await wait_for(
            http, f"/v1/campaigns/{created.json()['id']}", lambda b: b["status"] == "completed"
        )
        campaign_id: str = created.json()["id"]
        return campaign_id


async def test_a_retailer_lists_its_campaigns_newest_first(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    stranger = await make_org(stack, "retailer")
    center = await make_org(stack, "repair_center")
    sku = (await add_product(stack, shop))["sku"]
    made = [await campaign(stack, shop, sku, f"Recall {n}") for n in range(3)]
    theirs = await campaign(stack, stranger, (await add_product(stack, stranger))["sku"], "Theirs")

    async with stack.http(shop.key) as http:
        listed = await http.get("/v1/campaigns")
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert [c["id"] for c in body["items"]] == made[::-1]
        assert body["next_cursor"] is None
        newest: dict[str, Any] = body["items"][0]
        assert newest["name"] == "Recall 2" and newest["sku"] == sku
        assert (newest["status"], newest["recipients"], newest["sent"]) == ("completed", 0, 0)
        assert newest == (await http.get(f"/v1/campaigns/{made[2]}")).json()

        first = (await http.get("/v1/campaigns", params={"limit": 2})).json()
        assert [c["id"] for c in first["items"]] == made[:0:-1]
        rest = (
            await http.get("/v1/campaigns", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        assert [c["id"] for c in rest["items"]] == made[:1] and rest["next_cursor"] is None

        done = (await http.get("/v1/campaigns", params={"status": "completed"})).json()
        assert [c["id"] for c in done["items"]] == made[::-1]
        running = (await http.get("/v1/campaigns", params={"status": "running"})).json()
        assert running["items"] == []
        bad_status = await http.get("/v1/campaigns", params={"status": "paused"})
        assert_problem(bad_status, 422, "validation_error")
        bad_cursor = await http.get("/v1/campaigns", params={"cursor": "not-ours"})
        assert_problem(bad_cursor, 422, "invalid_cursor")

        table = await http.get("/v1/campaigns", params={"format": "csv", "limit": 2})
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert [r["id"] for r in rows] == made[:0:-1]
        assert {"name", "status", "recipients", "sent", "responses"} <= rows[0].keys()
        assert 'rel="next"' in table.headers["link"]

    async with stack.http(stranger.key) as http:
        assert [c["id"] for c in (await http.get("/v1/campaigns")).json()["items"]] == [theirs]
    async with stack.http(center.key) as http:
        assert_problem(await http.get("/v1/campaigns"), 403, "forbidden")
