"""The tracking page's rating form in a real headless Chromium (Debian's), at phone width:
no JavaScript, the radio buttons and the comment filled as a person would, sent once, the
page then thanking instead of asking again; the retailer reads the rating on the case."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.api.helpers import add_product, make_org
from tests.api.test_feedback_e2e import cancelled, open_rma
from tests.api.test_tracking_page import artifacts, browser
from tests.support import Stack

pytestmark = pytest.mark.e2e

__all__ = ["browser"]


async def test_a_customer_rates_an_ended_case_in_chromium(stack: Stack, browser: Browser) -> None:
    shop = await make_org(stack, "retailer")
    sku = (await add_product(stack, shop))["sku"]
    rma = await cancelled(stack, shop, await open_rma(stack, shop, sku))
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await page.goto(f"{stack.base_url}/track/{rma['tracking_token']}")
        section = page.locator("#feedback")
        assert await section.get_by_role("heading", name="How did we do?").is_visible()
        await section.get_by_label("4", exact=True).check()
        await section.get_by_label("Anything you'd like to tell us?").fill("Quick and kind.")
        await page.screenshot(path=str(artifacts() / "feedback-form-phone.png"), full_page=True)
        await section.get_by_role("button", name="Send my rating").click()
        await page.wait_for_load_state()
        assert page.url.endswith(f"/track/{rma['tracking_token']}#feedback")
        thanks = page.locator("#feedback")
        assert await thanks.get_by_role("heading", name="Thank you for your rating").is_visible()
        assert await page.locator('input[name="rating"]').count() == 0
    finally:
        await context.close()
    async with stack.http(shop.key) as http:
        view = (await http.get(f"/v1/rmas/{rma['id']}")).json()
        assert (view["feedback"]["rating"], view["feedback"]["comment"]) == (4, "Quick and kind.")
