"""A clerk takes a return from review to refund entirely in the retailer console, in a real
Chromium (Debian's): home → the review list → the RMA → approve; the carrier's scans
arrive (signed carrier events, as in the API tests); the home page's "delivered, not
received" leads back to it; receive; the inspection form filled with the keyboard alone;
the refund shown. axe finds nothing on the home, list and case pages; screenshots of each
at desktop and phone width go to docs/screens/."""

from __future__ import annotations

import re
import shutil
from typing import Any

from playwright.async_api import Page, expect

from tests.api.helpers import wait_for
from tests.api.test_rma_e2e import carrier, scan, with_label
from tests.console.axe import assert_no_axe_violations
from tests.console.conftest import ConsoleUsers
from tests.console.support import PHONE, SCREENS, horizontal_overflow, login, screenshot
from tests.console.test_retail_pages import pending_rma
from tests.support import Stack


async def check_page(page: Page, name: str | None = None) -> None:
    """No axe violation, no sideways scrolling on a phone; its screenshots if named."""
    await assert_no_axe_violations(page)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0, f"{page.url} scrolls sideways at 390 px"
    await assert_no_axe_violations(page)
    if name:
        await screenshot(page, name)
        # The desktop one under the page's own name too, as the README shows it.
        shutil.copyfile(SCREENS / f"{name}-desktop.png", SCREENS / f"{name}.png")
    else:
        await page.set_viewport_size({"width": 1280, "height": 800})


async def rma_body_when(stack: Stack, users: ConsoleUsers, rma_id: str, ready: Any) -> Any:
    async with stack.http(users.retailer.key) as api:
        return await wait_for(api, f"/v1/rmas/{rma_id}", ready)


async def tab_to(page: Page, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element with `element_id` has the focus."""
    for _ in range(limit):
        if await page.evaluate("() => document.activeElement && document.activeElement.id") == (
            element_id
        ):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} never took the focus with Tab")


async def test_a_return_from_review_to_refund_in_the_console(
    stack: Stack, console_users: ConsoleUsers, browser_page: Page
) -> None:
    page = browser_page
    rma = await pending_rma(stack, console_users)
    rma_id = rma["id"]
    await login(page, console_users.staff.email, console_users.staff.password)

    # Home: what waits, each count a link to its list.
    await page.goto("/console/")
    review = page.get_by_role("link", name="RMAs waiting for review")
    await expect(review).to_contain_text("1")
    await check_page(page, "console-home")
    await review.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Returns")
    await check_page(page, "console-rmas")
    # With htmx the results follow the typing; the URL keeps the search.
    await page.get_by_label("Case id, order, customer email or serial").fill("no-such-order")
    await expect(page.get_by_text("No returns match.")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"q=no-such-order"))
    await page.get_by_label("Case id, order, customer email or serial").fill(rma["order_ref"])

    # The RMA: approve.
    await page.get_by_role("link", name=rma_id).click()
    await expect(page.locator(".status")).to_have_text("pending review")
    await check_page(page)
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text("Approved")
    await expect(page.locator(".status")).to_have_text("awaiting return")

    # The carrier picks the parcel up and delivers it.
    body = await rma_body_when(stack, console_users, rma_id, with_label)
    tracking = body["shipments"][0]["tracking_number"]
    for status in ("picked_up", "delivered"):
        assert (await carrier(stack, scan(tracking, status))).status_code == 200
    await rma_body_when(
        stack,
        console_users,
        rma_id,
        lambda b: b["status"] == "in_transit" and b["shipments"][0]["status"] == "delivered",
    )
    await page.goto("/console/")
    delivered = page.get_by_role("link", name="Parcels delivered, not received")
    await expect(delivered).to_contain_text("1")
    await delivered.click()
    await page.get_by_role("link", name=rma_id).click()
    await expect(page.locator(".shipment-status")).to_have_text("delivered")

    # Receive, then the inspection with the keyboard alone.
    await page.get_by_label("Note (optional)").fill("Dock 3, box intact")
    await page.get_by_role("button", name="Mark received").click()
    await expect(page.locator(".status")).to_have_text("received")
    await check_page(page)
    await page.locator("#main").focus()
    await tab_to(page, "grade-A")
    await page.keyboard.press("Space")
    await tab_to(page, "serial-matches")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Like new, all accessories")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("() => document.activeElement.textContent")
    assert focused.strip() == "Record inspection"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("Inspected")

    # The refund, once the workflow has paid it.
    done = await rma_body_when(stack, console_users, rma_id, lambda b: b["status"] == "completed")
    assert done["refund"] == {"amount": "1500.00", "currency": "USD"}
    await page.reload()
    await expect(page.locator(".status")).to_have_text("completed")
    await expect(page.locator(".refund")).to_have_text("1500.00 USD")
    timeline = page.locator(".timeline")
    for event in ("approved", "received", "inspected"):
        await expect(timeline).to_contain_text(event)
    await expect(timeline.locator(".actor").first).to_be_visible()
    await expect(timeline).to_contain_text(console_users.staff.name)
    await check_page(page, "console-rma")


async def test_the_setup_pages_are_accessible_on_a_phone(
    stack: Stack, console_users: ConsoleUsers, browser_page: Page
) -> None:
    """Every retailer form page: no axe violation at desktop and 390 px, no sideways
    scrolling; a refused form says why in an alert that axe accepts too."""
    page = browser_page
    await login(page, console_users.owner.email, console_users.owner.password)
    for path, name in (
        ("/console/rmas/new", "console-new-rma"),
        ("/console/service-plans/new", None),
        ("/console/plans", "console-plans"),
        ("/console/inventory", None),
        ("/console/webhooks", "console-webhooks"),
        ("/console/repair-network", None),
        ("/console/repairs", None),
    ):
        await page.goto(path)
        await check_page(page, name)
    # A refused form: the reason in an alert, the page still clean.
    await page.goto("/console/repair-network")
    await page.get_by_label("Repair center ids, one per line").fill("not-a-center")
    await page.get_by_role("button", name="Save the network").click()
    await expect(page.get_by_role("alert")).to_contain_text("not-a-center")
    await check_page(page)
