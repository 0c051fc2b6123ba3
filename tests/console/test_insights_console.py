"""The retailer's insight page in a real Chromium (Debian's), over the known read model of
tests/api/test_insights.py: the figures table, each chart an SVG with its title and
description and a table of its figures beside it, by category too, a bad date refused
inline, the CSV; axe finds nothing, no sideways scrolling on a phone, screenshots."""

from __future__ import annotations

import csv
import io

from playwright.async_api import Page, expect

from tests.api.test_insights import Shop, shop
from tests.console.axe import assert_no_axe_violations
from tests.console.support import PHONE, create_user, horizontal_overflow, login, screenshot
from tests.support import Stack

__all__ = ["shop"]  # the fixture, imported for pytest


async def row_cells(page: Page, table: str, header: str) -> list[str]:
    row = page.locator(f"{table} tr", has=page.locator(f"th:text-is('{header}')"))
    return [text.strip() for text in await row.locator("td").all_inner_texts()]


async def test_the_insight_page(stack: Stack, shop: Shop, browser_page: Page) -> None:
    page = browser_page
    staff = await create_user(stack, shop.retailer, "staff")
    await login(page, staff.email, staff.password)
    await page.get_by_role("link", name="Insights").click()
    await expect(page.get_by_role("heading", name="Insights", level=1)).to_be_visible()

    assert await row_cells(page, "table.figures", shop.sku_a) == [
        "10", "3", "30.0%", "2", "4", "66.7%", "20 h", "30 h", "1", "0", "1", "1", "3.67", "3",
    ]  # fmt: skip
    assert await row_cells(page, "table.figures", shop.sku_c) == [
        "4", "1", "25.0%", "1", "0", "—", "—", "—", "0", "0", "0", "0", "—", "0",
    ]  # fmt: skip

    charts = page.locator("svg.chart")
    await expect(charts).to_have_count(4)
    for n in range(4):
        chart = charts.nth(n)
        assert await chart.get_attribute("role") == "img"
        assert (await chart.locator("title").text_content() or "").strip()
        assert (await chart.locator("desc").text_content() or "").strip()
    rate = page.locator("#chart-return-rate")
    assert await rate.locator("title").text_content() == "Return rate by product"
    # Highest return rate first: B (100%), A (30%), C (25%).
    assert await rate.locator("rect").count() == 3
    assert await row_cells(page, "table.chart-data", shop.sku_b) == ["1", "1", "100.0%"]
    # Summed over the products: A's two and B's one.
    assert await row_cells(page, "table.chart-data", "defective") == ["3"]
    assert await row_cells(page, "table.chart-data", "changed mind") == ["1"]
    assert await row_cells(page, "table.chart-data", "F1") == ["2", "2026-01-25", "2026-03-03"]
    # Shipped in 10, 20 and 30 hours.
    assert await row_cells(page, "table.chart-data", "under 24 h") == ["2"]
    assert await row_cells(page, "table.chart-data", "24 to 48 h") == ["1"]

    await assert_no_axe_violations(page)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0, "the insight page scrolls sideways at 390 px"
    await screenshot(page, "console-insights")

    await page.get_by_label("Group by").select_option("category")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Show").click()
    assert await row_cells(page, "table.figures", "audio") == [
        "11", "4", "36.4%", "2", "4", "66.7%", "20 h", "30 h", "1", "1", "2", "1", "3.67", "3",
    ]  # fmt: skip

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download these figures as CSV").click()
    download = await download_info.value
    path = await download.path()
    table = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert {row["key"]: row["sold"] for row in table} == {"audio": "11", "video": "4"}


async def test_a_bad_date_is_refused_on_the_page(
    stack: Stack, shop: Shop, browser_page: Page
) -> None:
    page = browser_page
    staff = await create_user(stack, shop.retailer, "staff")
    await login(page, staff.email, staff.password)
    answer = await page.goto("/console/insights?from=2026-02-30")
    assert answer is not None and answer.status == 422
    await expect(page.get_by_role("alert")).to_have_text("“From” is not a date (YYYY-MM-DD).")
    answer = await page.goto("/console/insights?from=2026-03-01&to=2026-02-01")
    assert answer is not None and answer.status == 422
    await expect(page.get_by_role("alert")).to_have_text("“To” is before “From”.")
    technician = await create_user(stack, shop.center, "technician")
    other = await page.context.browser.new_context(base_url=stack.base_url)  # type: ignore[union-attr]
    try:
        theirs = await other.new_page()
        await login(theirs, technician.email, technician.password)
        refused = await theirs.goto("/console/insights")
        assert refused is not None and refused.status == 403
    finally:
        await other.close()
