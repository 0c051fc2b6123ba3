"""3-D Secure on Stripe as the customer meets it, end to end: the real dev server, worker and
API, the retailer on Stripe (the local stub, tests/stubs/stripe.py) and a real headless
Chromium. An advance replacement's deposit hold needs the customer's authentication: the
case waits, the customer gets an email with the bank's link, the tracking page shows it as
their next step, they pass 3-D Secure on the bank's page, come back to the tracking page,
and Stripe's signed `payment_intent.succeeded` lets the unit ship. Failing it on the bank's
page takes the declined path: nothing ships."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser
from sqlalchemy import select

from db import models
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import wait_for
from tests.api.test_stripe_e2e import THREE_D_SECURE, StripeWorld, advance, stripe_world
from tests.api.test_tracking_page import (
    assert_html_page,
    assert_readable,
    browser,
    h1,
    phone_context,
    screenshots,
    text_of,
    timeline,
)

pytestmark = pytest.mark.e2e

# The fixtures this module shares with the modules they come from (a stack of its own).
__all__ = ["browser", "stripe_world"]

CONFIRM_LINK = "#confirm-payment"


async def emails_of(world: StripeWorld, case_id: str) -> list[models.Email]:
    engine = make_engine(world.stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.scalars(
                select(models.Email).where(models.Email.case_id == case_id)
            )
            return list(rows.all())
    finally:
        await engine.dispose()


async def waiting_for_customer(world: StripeWorld) -> tuple[str, dict[str, Any], str]:
    """An advance replacement whose hold waits for 3-D Secure: its retailer key, its body
    once the wait shows, and the bank's URL."""
    shop, body = await advance(world, THREE_D_SECURE)
    # The create call answers at once; the unit waits for the deposit.
    assert (body["status"], body["shipments"]) == ("requested", [])
    async with world.stack.http(shop.key) as http:
        waiting = await wait_for(
            http, f"/v1/replacements/{body['id']}", lambda b: b.get("payment_action") is not None
        )
    action = waiting["payment_action"]
    assert (action["amount"], action["kind"]) == ({"amount": "80.00", "currency": "USD"}, "hold")
    assert action["since"] < action["expires_at"]
    (intent,) = world.intents_of(body["id"])
    assert action["url"] == f"{world.stub.base_url}/authenticate/{intent['id']}"
    return shop.key, waiting, action["url"]


async def test_the_customer_passes_3d_secure_from_the_tracking_page(
    stripe_world: StripeWorld, browser: Browser
) -> None:
    world = stripe_world
    key, body, url = await waiting_for_customer(world)
    token = body["tracking_token"]
    page_url = f"{world.stack.base_url}/track/{token}"

    # The email: the bank's link, the amount and the tracking page.
    emails = await emails_of(world, body["id"])
    (email,) = [e for e in emails if e.notice == "payment_authentication"]
    assert email.subject == f"Please confirm your payment ({body['id']})"
    assert url in email.body and "$80.00" in email.body
    assert page_url in email.body

    # The JSON tracking lists the action with its link.
    async with httpx.AsyncClient(base_url=world.stack.base_url) as anonymous:
        tracked = (await anonymous.get(f"/v1/track/{token}")).json()
        html = assert_html_page(await anonymous.get(f"/track/{token}"), 200)
    (action,) = tracked["actions"]
    assert (action["action"], action["url"]) == ("authenticate_payment", url)
    assert action["amount"] == {"amount": "80.00", "currency": "USD"}
    assert "Confirm the payment of $80.00 with your bank" in text_of(html, "next-step")
    assert "Your bank asks you to confirm a payment" in text_of(html, "timeline")

    context = await phone_context(browser, javascript=False)
    try:
        page = await context.new_page()
        await page.goto(page_url)
        link = page.locator(CONFIRM_LINK)
        assert await link.get_attribute("href") == url
        assert await link.inner_text() == "Confirm the payment with your bank"
        await assert_readable(page, [CONFIRM_LINK, "#next-heading"])
        await screenshots(page, "replacement-3ds-waiting")

        # To the bank's page, through 3-D Secure, and back to the tracking page.
        await link.click()
        assert page.url == url
        await page.get_by_role("button", name="Complete").click()
        await page.wait_for_url(f"{page_url}?payment_intent=*")
        async with world.stack.http(key) as http:
            shipped = await wait_for(
                http, f"/v1/replacements/{body['id']}", lambda b: b["status"] == "shipped"
            )
        assert shipped["payment_action"] is None and shipped["hold"]["status"] == "held"
        await page.goto(page_url)
        assert await page.locator(CONFIRM_LINK).count() == 0
        assert (await page.locator("#status").inner_text()) == "Your replacement is on its way"
        steps = await timeline(page)
        assert any(step.startswith("You confirmed the payment") for step in steps), steps
        await screenshots(page, "replacement-3ds-confirmed")
    finally:
        await context.close()
    (intent,) = world.intents_of(body["id"])
    assert world.stub.intents[intent["id"]]["status"] == "requires_capture"


async def test_a_failed_3d_secure_ships_nothing(stripe_world: StripeWorld) -> None:
    world = stripe_world
    key, body, url = await waiting_for_customer(world)
    # The customer fails on the bank's page (no browser needed: the page is a plain form).
    async with httpx.AsyncClient() as bank:
        failed = await bank.post(url, data={"outcome": "fail"})
    assert failed.status_code == 303
    async with world.stack.http(key) as http:
        ended = await wait_for(
            http, f"/v1/replacements/{body['id']}", lambda b: b["status"] == "payment_failed"
        )
    assert (ended["reason"], ended["shipments"], ended["payment_action"]) == (
        "deposit_hold_declined",
        [],
        None,
    )
    events = [e["event"] for e in ended["timeline"]]
    assert events.index("payment_authentication_failed") < events.index("payment_failed")
    (failure,) = [e for e in ended["timeline"] if e["event"] == "payment_authentication_failed"]
    assert failure["detail"]["reason"] == "authentication_failed"
    async with httpx.AsyncClient(base_url=world.stack.base_url) as anonymous:
        html = assert_html_page(await anonymous.get(f"/track/{body['tracking_token']}"), 200)
    assert h1(html) == "We couldn't place the deposit"
    assert "The payment wasn't confirmed" in text_of(html, "timeline")
    assert "Your bank didn't confirm the payment" in text_of(html, "timeline")
    assert 'id="confirm-payment"' not in html
