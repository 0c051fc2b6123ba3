"""A campaign's offer taken up by the customer, end to end over HTTP: the link in the email
opens a page under the retailer's portal, whose plain form starts a repair with coverage
`campaign` (no quote to pay) through the API's own start code; a second try shows the same
case; the campaign counts the response; a replacement offer starts a replacement."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from db import models
from tests.api.helpers import add_product, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_campaigns_e2e import buyer, place_order
from tests.api.test_repair_e2e import new_center
from tests.support import Stack, eventually

pytestmark = pytest.mark.e2e


async def offer_links(sessions: Sessions, campaign_id: str, count: int) -> list[str]:
    async def read() -> list[str]:
        async with sessions() as session:
            found = await session.scalars(
                select(models.Email.tracking_url).where(models.Email.case_id == campaign_id)
            )
            return list(found.all())

    return await eventually(read, lambda links: len(links) == count, what="the campaign emails")


async def test_a_repair_offer_starts_one_covered_repair(stack: Stack, sessions: Sessions) -> None:
    category = f"offer-{uuid.uuid4().hex[:6]}"
    shop = await make_org(stack, "retailer")
    await new_center(stack, category)
    sku = (await add_product(stack, shop, category=category))["sku"]
    await place_order(stack, shop, buyer(1), [{"sku": sku, "serial": "PUMP-1"}], days_ago=900)
    async with stack.http(shop.key) as http:
        created = await http.post(
            "/v1/campaigns",
            json={
                "name": "Pump action",
                "sku": sku,
                "subject": "A free pump replacement",
                "message": "Your pump may leak.",
                "offer": "repair",
            },
        )
        campaign = created.json()
    (link,) = await offer_links(sessions, campaign["id"], 1)
    path = link.removeprefix(stack.base_url)
    assert path.startswith("/returns/") and "/campaign/" in path

    async with stack.http() as browser:
        page = await browser.get(path)
        assert page.status_code == 200
        assert "Start my free repair" in page.text and "PUMP-1" in page.text
        slug = path.split("/")[2]
        wrong_slug = await browser.get(path.replace(f"/returns/{slug}/", "/returns/nope/"))
        assert wrong_slug.status_code == 404
        assert (await browser.get(path + "x")).status_code == 404
        started = await browser.post(path, data={"fault": "Leaks on the floor"})
        assert started.status_code == 303, started.text
        tracking = started.headers["location"]
        assert tracking.startswith("/track/")
        again = await browser.post(path, data={"fault": "Still leaking"})
        assert again.status_code == 303 and again.headers["location"] == tracking
        shown = await browser.get(path)
        assert f'href="{tracking}"' in shown.text
        json_twin = await browser.post(
            f"/v1/campaign-offers/{path.rsplit('/', 1)[1]}", json={"fault": ""}
        )
        assert json_twin.status_code == 201, json_twin.text
        repair_id = json_twin.json()["case_id"]
        assert f"/track/{json_twin.json()['tracking_token']}" == tracking

    async with stack.http(shop.key) as http:
        repair = (await http.get(f"/v1/repairs/{repair_id}")).json()
        assert repair["coverage"] == "campaign"
        assert repair["unit"]["serial"] == "PUMP-1"
        assert repair["fault"] == "Leaks on the floor"
        # Bought 900 days ago, out of warranty: covered by the campaign all the same.
        assert repair["status"] == "awaiting_unit"
        counted = await wait_for(
            http, f"/v1/campaigns/{campaign['id']}", lambda b: b["responses"] == 1
        )
        assert counted["sent"] == 1


async def test_a_replacement_offer_and_an_offer_of_nothing(
    stack: Stack, sessions: Sessions
) -> None:
    shop = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    await place_order(stack, shop, buyer(2), [{"sku": sku, "serial": "SWAP-1"}])
    async with stack.http(shop.key) as http:
        offers = {}
        for offer in ("replacement", "none"):
            created = await http.post(
                "/v1/campaigns",
                json={"name": offer, "sku": sku, "subject": "s", "message": "m", "offer": offer},
            )
            offers[offer] = created.json()["id"]
    (link,) = await offer_links(sessions, offers["replacement"], 1)
    token = link.rsplit("/", 1)[1]
    async with stack.http() as customer:
        taken = await customer.post(f"/v1/campaign-offers/{token}", json={})
        assert taken.status_code == 201, taken.text
        assert taken.json()["case_type"] == "replacement"
    async with stack.http(shop.key) as http:
        replacement = (await http.get(f"/v1/replacements/{taken.json()['case_id']}")).json()
        assert replacement["unit"] == {"sku": sku, "serial": "SWAP-1"}
    async with sessions() as session:
        case = await session.get(models.Case, taken.json()["case_id"])
        assert case is not None and case.coverage == "campaign"
    (nothing,) = await offer_links(sessions, offers["none"], 1)
    assert nothing == ""  # the email carries no link
