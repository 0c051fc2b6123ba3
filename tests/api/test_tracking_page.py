"""The customer's tracking page (`GET /track/{token}`) end to end, on SQLite and PostgreSQL,
with the real dev server and worker: a real headless Chromium (Debian's) reads a return
waiting for its parcel and a paid repair waiting for its quote, approves the quote with
JavaScript off, measures contrast and horizontal scroll, and takes phone and desktop
screenshots; httpx reads the replacement, relocation (rescheduled from the page's form) and
service plan pages, the refusals and the 404."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from tests.api.helpers import add_product, customer, make_org, wait_for
from tests.api.test_plans import plan
from tests.api.test_relocation_e2e import FROM_SITE, TO_SITE, soon
from tests.api.test_repair_e2e import DIAGNOSIS, new_center, repair_body
from tests.api.test_replacement_e2e import replacement_body, shop_with_stock
from tests.api.test_rma_e2e import carrier, new_retailer, rma_body, scan, wait_until, with_label
from tests.api.test_service_plan_e2e import enrolment
from tests.support import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1280, height=800)
PERSONAL = [
    "Lovelace",
    customer()["email"],
    customer()["phone"],
    customer()["address"]["line1"],
    customer()["address"]["postal_code"],
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def artifacts() -> Path:
    root = os.environ.get("AFTERSALES_TEST_ARTIFACTS") or Path(__file__).parents[2] / (
        "test-artifacts"
    )
    folder = Path(root) / "tracking"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("AFTERSALES_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and AFTERSALES_REQUIRE_BROWSER=1 requires it")
    pytest.skip(
        f"{CHROMIUM} is missing (Debian package `chromium`); "
        "set AFTERSALES_REQUIRE_BROWSER=1 to make this a failure"
    )


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


# ------------------------------------------------------------------ helpers


def day_words(moment: datetime | str) -> str:
    """`7 December` (with the year when not this year's), written independently of the
    implementation so the test checks it rather than repeats it."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    day = moment.astimezone(UTC).date()
    text = f"{day.day} {MONTHS[day.month - 1]}"
    return text if day.year == datetime.now(UTC).year else f"{text} {day.year}"


def assert_html_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert_security_headers(response.headers)
    assert "<script" not in response.text  # works without JavaScript because it has none
    return response.text


def assert_security_headers(headers: Any) -> None:
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "'unsafe-inline'" not in csp and "form-action 'self'" in csp


def assert_no_personal_data(html: str) -> None:
    for value in PERSONAL:
        assert value not in html, f"personal data {value!r} on the tracking page"
    assert "Ada" in html  # the first name, and only that


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id, tags stripped and spaces collapsed."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no #{element_id} on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split())


def h1(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    def rgb(css: str) -> tuple[float, float, float]:
        numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
        assert len(numbers) == 3 or (len(numbers) == 4 and numbers[3] == 1), css
        return numbers[0], numbers[1], numbers[2]

    lighter, darker = sorted((luminance(rgb(foreground)), luminance(rgb(background))))[::-1]
    return (lighter + 0.05) / (darker + 0.05)


# The first opaque background behind an element: what its text is read against.
_COLOURS_JS = """
(selectors) => selectors.map((selector) => {
  const element = document.querySelector(selector);
  if (!element) return null;
  let holder = element;
  let background = 'rgb(255, 255, 255)';
  while (holder) {
    const colour = getComputedStyle(holder).backgroundColor;
    if (colour && colour !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(colour)) {
      background = colour;
      break;
    }
    holder = holder.parentElement;
  }
  return [selector, getComputedStyle(element).color, background];
})
"""


async def assert_readable(page: Page, selectors: list[str]) -> dict[str, float]:
    """WCAG 2.2 AA: text at least 4.5:1 against its background, and no sideways scroll."""
    found = await page.evaluate(_COLOURS_JS, selectors)
    ratios = {}
    for selector, entry in zip(selectors, found, strict=True):
        assert entry is not None, f"{selector} not on the page"
        _, colour, background = entry
        ratios[selector] = contrast(colour, background)
        assert ratios[selector] >= 4.5, f"{selector}: {colour} on {background} is {ratios}"
    width = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1], f"horizontal scroll at {width[1]} px: content {width[0]} px"
    return ratios


async def screenshots(page: Page, name: str) -> None:
    folder = artifacts()
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=folder / f"{name}-phone.png", full_page=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=folder / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)


async def phone_context(browser: Browser, javascript: bool) -> BrowserContext:
    return await browser.new_context(viewport=PHONE, java_script_enabled=javascript)


async def timeline(page: Page) -> list[str]:
    return [" ".join(t.split()) for t in await page.locator("#timeline > li").all_inner_texts()]


# ------------------------------------------------------------------ browser


async def test_return_waiting_for_its_parcel_in_a_browser(stack: Stack, browser: Browser) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        rma = await wait_until(shop, created.json()["id"], with_label)
    token = rma["tracking_token"]
    ship_by = next(e for e in rma["timeline"] if e["event"] == "label_created")["detail"]["ship_by"]
    label = next(d for d in rma["documents"] if d["kind"] == "return_label")

    context = await phone_context(browser, javascript=True)
    try:
        page = await context.new_page()
        response = await page.goto(f"{stack.base_url}/track/{token}")
        assert response is not None and response.status == 200
        assert response.headers["content-type"].startswith("text/html")
        assert_security_headers(response.headers)
        assert await page.locator("html").get_attribute("lang") == "en"
        assert await page.locator("main h1").inner_text() == "We're waiting for your parcel"
        assert "Hello Ada." in await page.locator(".lead").inner_text()
        assert await page.locator("#deadline").inner_text() == f"Ship by {day_words(ship_by)}"
        assert await page.locator("#next-heading").inner_text() == "What you need to do"

        steps = await timeline(page)
        today = day_words(datetime.now(UTC))
        assert steps[0].startswith("Return requested") and today in steps[0]
        assert any(s.startswith("Return approved") for s in steps)
        ready = next(s for s in steps if s.startswith("Return label ready"))
        assert f"Ship by {day_words(ship_by)}" in ready
        assert rma["shipments"][0]["tracking_number"] in ready
        to_come = await page.locator("#to-come > li").all_inner_texts()
        assert to_come == [
            "Your parcel travels to us",
            "We receive your parcel",
            "We inspect your item",
            "We pay your refund",
        ]

        # The label opens with the token alone, as the PDF it is.
        link = page.locator("#documents a", has_text="Return label")
        href = await link.get_attribute("href")
        assert href == f"/v1/documents/{label['id']}?token={token}"
        assert await page.locator("#next-step a.button").get_attribute("href") == href
        async with stack.http() as anyone:
            pdf = await anyone.get(href)
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")

        await assert_readable(
            page,
            [
                *("main h1", ".lead", ".eyebrow", ".step-when", "#deadline"),
                *("#next-step a.button", "#documents a", ".site-footer p", ".brand"),
            ],
        )
        assert_no_personal_data(await page.content())
        await screenshots(page, f"rma-awaiting-return-{stack.backend}")
        await page.set_viewport_size(DESKTOP)
        await assert_readable(page, ["main h1", ".lead"])
    finally:
        await context.close()


async def test_paid_repair_quote_approved_without_javascript(
    stack: Stack, browser: Browser
) -> None:
    category = f"coffee-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category=category, warranty_months=12)
    center = await new_center(stack, category)
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/repairs", json=repair_body(product["sku"]))
        assert created.status_code == 201, created.text
        assert created.json()["coverage"] == "paid"
        token = created.json()["tracking_token"]
        path = f"/v1/repairs/{created.json()['id']}"
        await wait_for(shop, path, lambda b: bool(b["documents"]) and bool(b["shipments"]))
    async with stack.http(center.key) as bench:
        for status in ("received", "diagnosing"):
            assert (await bench.post(f"{path}/status", json={"status": status})).status_code == 200
        quoted = await bench.post(f"{path}/diagnosis", json=DIAGNOSIS)
        assert quoted.status_code == 200 and quoted.json()["status"] == "awaiting_approval"
        expires_at = quoted.json()["quote"]["expires_at"]

    context = await phone_context(browser, javascript=False)
    try:
        page = await context.new_page()
        response = await page.goto(f"{stack.base_url}/track/{token}")
        assert response is not None and response.status == 200
        assert await page.locator("main h1").inner_text() == "Your repair quote is ready"
        assert "$90.00" in await page.locator("#quote-amount").inner_text()
        assert "$90.00" in await page.locator("#next-step .next-title").inner_text()
        deadline = f"Approve the quote by {day_words(expires_at)}"
        assert await page.locator("#deadline").inner_text() == deadline
        steps = await timeline(page)
        titles = [s.split(" ", 2)[:2] for s in steps]
        assert ["Repair", "requested"] in titles
        assert any(s.startswith("Unit received at the repair centre") for s in steps)
        quote_step = next(s for s in steps if s.startswith("Repair quote ready"))
        assert "$90.00" in quote_step and f"Answer by {day_words(expires_at)}" in quote_step
        assert await page.locator("#to-come > li").first.inner_text() == "Your unit is repaired"
        assert await page.locator("label[for=preferred_after]").count() == 0

        await assert_readable(
            page,
            [
                *("main h1", ".lead", "#deadline", ".step-note", "#quote-amount"),
                *("button[value=true]", "button[value=false]"),
            ],
        )
        assert_no_personal_data(await page.content())
        await screenshots(page, f"repair-quote-{stack.backend}")

        # A plain form post, no script: the browser follows the 303 back to the page.
        async with page.expect_navigation():
            await page.get_by_role("button", name="Approve quote").click()
        assert page.url == f"{stack.base_url}/track/{token}"
        assert await page.locator("main h1").inner_text() == "We're waiting for parts"
        assert any(s.startswith("You approved the quote") for s in await timeline(page))
        assert await page.get_by_role("button", name="Approve quote").count() == 0
        await screenshots(page, f"repair-approved-{stack.backend}")
    finally:
        await context.close()

    async with stack.http(retailer.key) as shop:
        job = (await shop.get(path)).json()
        assert job["status"] == "awaiting_parts"
        assert job["quote"]["outcome"] == "approved"
    async with stack.http() as person:
        # Too late now: the page says why, with a 409 and no stack trace.
        again = await person.post(f"/track/{token}/quote", data={"approve": "true"})
        html = assert_html_page(again, 409)
        assert "can't be answered any more" in text_of(html, "message")
        assert h1(html) == "We're waiting for parts"
        assert 'role="alert"' in html
        nonsense = await person.post(f"/track/{token}/quote", data={"approve": "maybe"})
        assert "Please choose" in text_of(assert_html_page(nonsense, 422), "message")


# ------------------------------------------------------------------ httpx


async def test_a_return_resolved_by_repair_takes_the_quote_answer_on_its_own_page(
    stack: Stack,
) -> None:
    category = f"grinder-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, price="120.00", category=category)
    center = await new_center(stack, category)
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(product["sku"], resolution="repair"))
        assert created.status_code == 201, created.text
        rma = await wait_until(shop, created.json()["id"], with_label)
    token = rma["tracking_token"]
    assert (
        await carrier(stack, scan(rma["shipments"][0]["tracking_number"], "delivered"))
    ).is_success
    async with stack.http(center.key) as bench:
        assert (await bench.post(f"/v1/rmas/{rma['id']}/receive")).status_code == 200
        # Damaged by the customer: the repair is theirs to pay, so it is quoted.
        inspected = await bench.post(
            f"/v1/rmas/{rma['id']}/inspection", json={"grade": "C", "serial_matches": True}
        )
        assert inspected.status_code == 200, inspected.text
        path = f"/v1/repairs/{inspected.json()['repair_id']}"
        await wait_for(bench, path, lambda b: b.get("status") == "received")
        assert (await bench.post(f"{path}/status", json={"status": "diagnosing"})).is_success
        quoted = await bench.post(f"{path}/diagnosis", json=DIAGNOSIS)
        assert quoted.json()["status"] == "awaiting_approval", quoted.text

    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert h1(html) == "Your item is with our repair team"
        assert text_of(html, "linked") == "Your repair Your repair quote is ready"
        assert f'action="/track/{token}/quote"' in html
        assert "$90.00" in text_of(html, "quote-amount")
        assert_no_personal_data(html)
        declined = await person.post(f"/track/{token}/quote", data={"approve": "false"})
        assert declined.status_code == 303, declined.text
        assert declined.headers["location"] == f"/track/{token}"
        assert_security_headers(declined.headers)
    async with stack.http(center.key) as bench:
        job = await wait_for(bench, path, lambda b: b["status"] == "ready_to_ship")
        assert job["quote"]["outcome"] == "declined"
    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert "Your unit is ready to come back" in text_of(html, "linked")
        assert "Approve quote" not in html


async def test_unknown_token_is_a_friendly_404_page(stack: Stack) -> None:
    async with stack.http() as person:
        html = assert_html_page(await person.get("/track/not-a-real-token"), 404)
        assert h1(html) == "We can't find this tracking page"
        assert '<html lang="en">' in html and 'name="viewport"' in html
        posted = await person.post("/track/not-a-real-token/quote", data={"approve": "true"})
        assert_html_page(posted, 404)
        moved = await person.post("/track/not-a-real-token/reschedule", data={"stage": "uninstall"})
        assert_html_page(moved, 404)


async def test_advance_replacement_page(stack: Stack) -> None:
    retailer, sku = await shop_with_stock(stack, 1)
    async with stack.http(retailer.key) as shop:
        created = await shop.post(
            "/v1/replacements", json=replacement_body(sku, mode="advance", payment_method="pm_ok")
        )
        assert created.status_code == 201 and created.json()["status"] == "shipped", created.text
        body = created.json()
        token, path = body["tracking_token"], f"/v1/replacements/{body['id']}"
    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert h1(html) == "Your replacement is on its way"
        assert "You send back your old unit" in text_of(html, "to-come")
        assert_no_personal_data(html)

    outbound = next(s for s in body["shipments"] if s["direction"] == "outbound")
    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).is_success
    async with stack.http(retailer.key) as shop:
        waiting = await wait_for(
            shop, path, lambda b: b["status"] == "awaiting_core" and len(b["shipments"]) == 2
        )
    core_due = next(e for e in waiting["timeline"] if e["event"] == "core_label_created")
    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert h1(html) == "Please send back your old unit"
        assert text_of(html, "deadline") == (
            f"Send it back by {day_words(core_due['detail']['core_due'])}"
        )
        assert "Return label" in text_of(html, "documents")
        assert "Replacement delivered" in text_of(html, "timeline")
        assert_no_personal_data(html)


async def test_relocation_page_reschedules_from_its_form(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="kiosk")
    provider = await make_org(stack, "repair_center")
    async with stack.http(retailer.key) as shop:
        assert (await shop.put("/v1/policy", json={"max_reschedules": 1})).status_code == 200
        created = await shop.post(
            "/v1/relocations",
            json={
                "asset": {"sku": product["sku"], "serial": f"K-{uuid.uuid4().hex[:8]}"},
                "provider_org_id": provider.id,
                "from_site": FROM_SITE,
                "to_site": TO_SITE,
                "customer": customer(),
            },
        )
        assert created.status_code == 201, created.text
        token, path = created.json()["tracking_token"], f"/v1/relocations/{created.json()['id']}"
    starts_at = datetime.fromisoformat(soon(4)).replace(hour=9, minute=30, second=0, microsecond=0)
    appointment = {"stage": "uninstall", "starts_at": starts_at.isoformat(), "technician": "Sam"}
    async with stack.http(provider.key) as field:
        assert (await field.post(f"{path}/appointments", json=appointment)).status_code == 200

    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert h1(html) == "Your uninstall visit is booked"
        assert text_of(html, "deadline") == (
            f"Uninstall visit on {day_words(starts_at)} at 09:30 UTC"
        )
        assert '<label for="preferred_after">' in html and 'name="stage" value="uninstall"' in html
        for site in (FROM_SITE, TO_SITE):
            assert site["line1"] not in html and site["postal_code"] not in html
        assert_no_personal_data(html)

        past = await person.post(
            f"/track/{token}/reschedule",
            data={"stage": "uninstall", "preferred_after": date.today().isoformat()},
        )
        assert "from tomorrow" in text_of(assert_html_page(past, 422), "message")
        preferred = (datetime.now(UTC) + timedelta(days=9)).date()
        moved = await person.post(
            f"/track/{token}/reschedule",
            data={"stage": "uninstall", "preferred_after": preferred.isoformat()},
        )
        assert moved.status_code == 303, moved.text
        assert moved.headers["location"] == f"/track/{token}"
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert h1(html) == "We're booking the uninstall visit"
        assert f"after {day_words(datetime.combine(preferred, datetime.min.time()))}" in html
        assert "You asked for another uninstall date" in text_of(html, "timeline")
        assert 'id="reschedule"' not in html

    async with stack.http(provider.key) as field:
        assert (await field.post(f"{path}/appointments", json=appointment)).status_code == 200
        assert (await field.get(path)).json()["reschedules_used"] == 1
    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert 'id="reschedule"' not in html  # no changes left
        refused = await person.post(f"/track/{token}/reschedule", data={"stage": "uninstall"})
        html = assert_html_page(refused, 409)
        assert "as many times as allowed" in text_of(html, "message")
        assert h1(html) == "Your uninstall visit is booked"


async def test_service_plan_page(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, warranty_months=3)
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(retailer.key) as shop:
        made = await shop.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert made.status_code == 201, made.text
        serial = f"SN-{uuid.uuid4().hex[:8]}"
        enrolled = await shop.post(
            "/v1/service-plans", json=enrolment(code, product["sku"], serial)
        )
        assert enrolled.status_code == 201 and enrolled.json()["status"] == "active", enrolled.text
        body = enrolled.json()
    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{body['tracking_token']}"), 200)
    assert h1(html) == "Your plan is active"
    assert text_of(html, "deadline") == f"Next payment on {day_words(body['next_charge_at'])}"
    assert f"until {day_words(body['term_ends_at'])}" in text_of(html, "next-step")
    steps = text_of(html, "timeline")
    assert "Plan purchased" in steps and "Payment received" in steps and "Cover started" in steps
    assert "Certificate of Coverage" in text_of(html, "documents")
    assert "Care 36" in html  # the plan's name, from the catalog
    assert_no_personal_data(html)
