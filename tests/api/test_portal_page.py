"""The return portal for people (`/returns/{slug}`) end to end, on SQLite and PostgreSQL,
with the real dev server and worker: a real headless Chromium (Debian's), JavaScript off,
at 390 px wide, finds an order by number and email, tries a troubleshooting step that fixes
it (a deflection, no return), and returns another item, landing on its tracking page with
the label to print. httpx checks the refusals the forms answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
)

from tests.api.portal_helpers import STEPS, new_shop, order_body, put_order, serial
from tests.api.test_tracking_page import (
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_html_page,
    require_chromium,
    screenshots,
)
from tests.support import Stack, eventually

pytestmark = pytest.mark.e2e

PHONE = ViewportSize(width=390, height=844)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def no_javascript_phone(browser: Browser) -> BrowserContext:
    return await browser.new_context(viewport=PHONE, java_script_enabled=False)


async def fits_the_phone(page: Page) -> None:
    """Styled (the CSP let the stylesheet in) and no wider than the phone."""
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(244, 245, 247)", "the stylesheet was not applied"
    width = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1], f"horizontal scroll at {width[1]} px: content {width[0]} px"


async def find_order(page: Page, stack: Stack, slug: str, order_ref: str) -> None:
    await page.goto(f"{stack.base_url}/returns/{slug}")
    await fits_the_phone(page)
    await page.get_by_label("Order number").fill(order_ref)
    await page.get_by_label("Email address").fill("ADA@example.com")
    await page.get_by_role("button", name="Find my order").click()
    await page.wait_for_url(re.compile(rf"/returns/{slug}/order$"))


async def test_troubleshooting_fixes_it_and_nothing_is_returned(
    stack: Stack, browser: Browser
) -> None:
    shop = await new_shop(stack)
    sku = shop.skus[0]
    async with stack.http(shop.org.key) as retailer:
        put = await retailer.put(f"/v1/products/{sku}/troubleshooting", json={"steps": STEPS})
        assert put.status_code == 200, put.text
    order = order_body([{"sku": sku, "serial": serial()}])
    await put_order(stack, shop, order)

    context = await no_javascript_phone(browser)
    try:
        page = await context.new_page()
        await find_order(page, stack, shop.slug, order["order_ref"])
        await page.get_by_label("It's faulty or stopped working").check()
        await page.get_by_role("button", name="Return this item").click()
        await page.get_by_role("heading", name="Before you send it back").wait_for()
        await fits_the_phone(page)
        steps = await page.locator(".troubleshooting h2").all_inner_texts()
        assert steps == [s["title"] for s in STEPS]
        await screenshots(page, f"portal-troubleshooting-{stack.backend}")
        await page.get_by_role("button", name=f"This fixed it: {STEPS[1]['title']}").click()
        await page.get_by_role("heading", name="Glad it works again").wait_for()
        assert page.url.endswith(f"/returns/{shop.slug}/fixed")
    finally:
        await context.close()

    async with stack.http(shop.org.key) as retailer:
        assert (await retailer.get("/v1/rmas")).json()["items"] == []
    async with stack.http() as customer:
        lookup = await customer.post(
            f"/v1/portal/{shop.slug}/lookup",
            json={"order_ref": order["order_ref"], "email": "ada@example.com"},
        )
        # Still returnable: a deflection is no case.
        assert lookup.json()["lines"][0]["returnable"] is True


async def test_a_return_from_the_portal_lands_on_tracking_with_the_label(
    stack: Stack, browser: Browser
) -> None:
    shop = await new_shop(stack, products=2)
    returned, kept = shop.skus
    async with stack.http(shop.org.key) as retailer:
        put = await retailer.put(f"/v1/products/{returned}/troubleshooting", json={"steps": STEPS})
        assert put.status_code == 200, put.text
    order = order_body([{"sku": returned, "serial": serial()}, {"sku": kept}])
    await put_order(stack, shop, order)

    context = await no_javascript_phone(browser)
    try:
        page = await context.new_page()
        await find_order(page, stack, shop.slug, order["order_ref"])
        await screenshots(page, f"portal-order-{stack.backend}")
        line = page.locator("section.card").filter(has_text=f"Product {returned}")
        await line.get_by_label("It's faulty or stopped working").check()
        await line.get_by_role("button", name="Return this item").click()
        await page.get_by_role("button", name="Still broken: continue my return").click()
        await page.get_by_role("heading", name="How should we put it right?").wait_for()
        await fits_the_phone(page)
        await page.get_by_label("A replacement").check()
        await page.get_by_label("Anything we should know?").fill("No sound at all")
        await screenshots(page, f"portal-return-{stack.backend}")
        await page.get_by_role("button", name="Request my return").click()
        await page.wait_for_url(re.compile(r"/track/[A-Za-z0-9_-]+$"))
        token = page.url.rsplit("/", 1)[1]
        # The label is there to print (the page waited for it, or a reload shows it).
        label = page.get_by_role("link", name=re.compile("Download the return label"))
        await eventually(
            lambda: _reloaded_count(page, label), lambda n: n == 1, what="the label link"
        )
        href = await label.get_attribute("href")
        assert href is not None and f"token={token}" in href
        await fits_the_phone(page)
        await screenshots(page, f"portal-tracking-{stack.backend}")
        pdf = await context.request.get(f"{stack.base_url}{href}")
        assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")

        # Back in the portal, the returned item is not offered again, and says why.
        await page.goto(f"{stack.base_url}/returns/{shop.slug}/order")
        card = page.locator("section.card").filter(has_text=f"Product {returned}")
        await card.get_by_text("A return or repair for this item is already under way.").wait_for()
        assert await card.get_by_role("button", name="Return this item").count() == 0
    finally:
        await context.close()

    async with stack.http(shop.org.key) as retailer:
        rmas = (await retailer.get("/v1/rmas")).json()["items"]
    assert [(r["resolution"], r["tracking_token"]) for r in rmas] == [("replacement", token)]
    assert rmas[0]["timeline"][0]["actor"] == "customer"
    assert rmas[0]["items"][0]["notes"] == "No sound at all"


async def _reloaded_count(page: Page, locator: Locator) -> int:
    count = await locator.count()
    if count == 0:
        await page.reload()
    return count


async def test_the_forms_answer_refusals_in_words(stack: Stack) -> None:
    shop = await new_shop(stack)
    order = order_body([{"sku": shop.skus[0]}])
    await put_order(stack, shop, order)
    async with stack.http() as browser_less:
        page = assert_html_page(await browser_less.get(f"/returns/{shop.slug}"), 200)
        assert '<label for="order_ref">' in page and '<label for="email">' in page
        wrong = await browser_less.post(
            f"/returns/{shop.slug}/lookup",
            data={"order_ref": order["order_ref"], "email": "eve@example.com"},
        )
        assert "couldn&#39;t find an order" in assert_html_page(wrong, 404)
        empty = await browser_less.post(f"/returns/{shop.slug}/lookup", data={})
        assert_html_page(empty, 422)
        # No lookup cookie: the order pages ask for the order again.
        expired = await browser_less.get(f"/returns/{shop.slug}/order")
        assert "has expired" in assert_html_page(expired, 401)
        assert_html_page(await browser_less.get("/returns/no-such-shop"), 404)

        found = await browser_less.post(
            f"/returns/{shop.slug}/lookup",
            data={"order_ref": order["order_ref"], "email": "ada@example.com"},
        )
        assert found.status_code == 303, found.text
        cookie = found.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert f"Path=/returns/{shop.slug}" in cookie
        listing = assert_html_page(await browser_less.get(f"/returns/{shop.slug}/order"), 200)
        line_id = re.search(rf"/returns/{shop.slug}/items/(\d+)", listing)
        assert line_id is not None
        item = f"/returns/{shop.slug}/items/{line_id.group(1)}"
        no_reason = await browser_less.get(item)
        assert "choose why" in assert_html_page(no_reason, 422)
        form = assert_html_page(await browser_less.get(item, params={"reason": "other"}), 200)
        # The order names no serial: the form asks for it.
        assert '<label for="serial">' in form
        missing = await browser_less.post(
            f"{item}/return", data={"reason": "other", "resolution": "refund"}
        )
        assert "serial number" in assert_html_page(missing, 422)

        # The form is the same lookup as the JSON API, limited alike: of 22 guesses, at
        # least 11 fall in one minute.
        guesses = [
            await browser_less.post(
                f"/returns/{shop.slug}/lookup",
                data={"order_ref": f"WEB-GUESS-{n}", "email": "ada@example.com"},
            )
            for n in range(22)
        ]
        limited = [g for g in guesses if g.status_code == 429]
        assert limited, [g.status_code for g in guesses]
        assert "Too many attempts" in assert_html_page(limited[0], 429)
        assert 1 <= int(limited[0].headers["Retry-After"]) <= 60
