"""A payment its customer must authenticate, on the built-in gateway, end to end (the real
dev server, worker and API, on SQLite and PostgreSQL): a plan enrolled with
`pm_requires_action` answers at once with the payment waiting (`payment_action`, shown to
its retailer only), the customer gets an email with the link, the tracking page leads to the
built-in gateway's stand-in bank page, and confirming there starts the plan; refusing
rejects it, as a declined first charge does."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db import models
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import Org, add_product, make_org, wait_for
from tests.api.test_plans import plan
from tests.api.test_service_plan_e2e import enrolment
from tests.api.test_tracking_page import assert_html_page, text_of
from tests.support import Stack

pytestmark = pytest.mark.e2e


async def emails_of(stack: Stack, case_id: str, notice: str) -> list[models.Email]:
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.scalars(
                select(models.Email).where(
                    models.Email.case_id == case_id, models.Email.notice == notice
                )
            )
            return list(rows.all())
    finally:
        await engine.dispose()


async def enrolled_waiting(stack: Stack) -> tuple[Org, dict[str, Any]]:
    """A plan of 9.99 a month enrolled with a card that needs 3-D Secure, as answered."""
    shop = await make_org(stack, "retailer")
    product = await add_product(stack, shop)
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(shop.key) as http:
        created = await http.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert created.status_code == 201, created.text
        body = enrolment(code, product["sku"], f"SN-{uuid.uuid4().hex[:8]}", "pm_requires_action")
        enrolled = await http.post("/v1/service-plans", json=body)
        # Answered while the first charge waits for the customer, not a day later.
        assert enrolled.status_code == 201, enrolled.text
        waiting = await wait_for(
            http,
            f"/v1/service-plans/{enrolled.json()['id']}",
            lambda b: b.get("payment_action") is not None,
        )
    assert waiting["status"] == "waiting_period"
    return shop, waiting


def bank_path(url: str, stack: Stack) -> str:
    assert url.startswith(f"{stack.base_url}/builtin-gateway/authenticate/gw_"), url
    return url.removeprefix(stack.base_url)


async def test_the_customer_confirms_the_first_charge_on_the_bank_page(stack: Stack) -> None:
    shop, body = await enrolled_waiting(stack)
    action = body["payment_action"]
    assert (action["amount"], action["kind"]) == ({"amount": "9.99", "currency": "USD"}, "charge")
    path = bank_path(action["url"], stack)
    token = body["tracking_token"]

    (email,) = await emails_of(stack, body["id"], "payment_authentication")
    assert action["url"] in email.body and "$9.99" in email.body
    assert f"{stack.base_url}/track/{token}" in email.body

    async with httpx.AsyncClient(base_url=stack.base_url) as customer:
        tracking = assert_html_page(await customer.get(f"/track/{token}"), 200)
        link = re.search(r'id="confirm-payment" href="([^"]+)"', tracking)
        assert link is not None and unescape(link.group(1)) == action["url"]
        assert "Confirm the payment of $9.99 with your bank" in text_of(tracking, "next-step")

        bank = assert_html_page(await customer.get(path), 200)
        assert text_of(bank, "amount") == "$9.99"
        for outcome in ("maybe", "confirm\x00", "confirm" * 1000):
            refused = await customer.post(path, data={"outcome": outcome})
            assert_html_page(refused, 422)
            assert "Please choose Confirm payment or Refuse." in text_of(refused.text, "message")
        confirmed = await customer.post(path, data={"outcome": "confirm"})
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == f"/track/{token}"
        # Once answered, the link opens nothing more.
        assert_html_page(await customer.get(path), 404)
        again = await customer.post(path, data={"outcome": "refuse"})
        assert again.status_code == 404

    async with stack.http(shop.key) as http:
        active = await wait_for(
            http, f"/v1/service-plans/{body['id']}", lambda b: b["status"] == "active"
        )
    assert active["payment_action"] is None
    assert [(p["kind"], p["status"]) for p in active["payments"]] == [("charge", "succeeded")]
    events = [e["event"] for e in active["timeline"]]
    assert events[:5] == [
        "enrolled",
        "payment_authentication_required",
        "payment_authenticated",
        "charged",
        "activated",
    ]
    async with httpx.AsyncClient(base_url=stack.base_url) as customer:
        tracked = (await customer.get(f"/v1/track/{token}")).json()
    assert tracked["actions"] == []


async def test_refusing_on_the_bank_page_rejects_the_plan(stack: Stack) -> None:
    shop, body = await enrolled_waiting(stack)
    path = bank_path(body["payment_action"]["url"], stack)
    async with httpx.AsyncClient(base_url=stack.base_url) as customer:
        tracked = (await customer.get(f"/v1/track/{body['tracking_token']}")).json()
        (action,) = tracked["actions"]
        assert (action["action"], action["url"]) == (
            "authenticate_payment",
            body["payment_action"]["url"],
        )
        refused = await customer.post(path, data={"outcome": "refuse"})
        assert refused.status_code == 303
    async with stack.http(shop.key) as http:
        rejected = await wait_for(
            http, f"/v1/service-plans/{body['id']}", lambda b: b["status"] == "rejected"
        )
    assert rejected["payment_action"] is None
    assert [e["event"] for e in rejected["timeline"]][-2:] == [
        "payment_authentication_failed",
        "rejected",
    ]


async def test_the_bank_page_of_an_unknown_payment_is_a_404(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as anyone:
        page = assert_html_page(await anyone.get("/builtin-gateway/authenticate/gw_nothing"), 404)
        assert "This payment needs nothing from you" in page
        posted = await anyone.post(
            "/builtin-gateway/authenticate/gw_nothing", data={"outcome": "confirm"}
        )
        assert posted.status_code == 404
