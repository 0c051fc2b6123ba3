"""Field work in the console end to end, on SQLite and PostgreSQL, with the real dev server
and worker, in Debian's headless Chromium: a provider's technician books a relocation's
uninstall from the appointment list, records the visit's checklist, books and records the
reinstall once the carrier has delivered, and commissions it (a failed item first keeps it
open); the certificate prints from the page; the list reads by day; axe finds nothing; the
customer's contact details and token never reach the pages."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from playwright.async_api import Page
from pypdf import PdfReader

from tests.api.helpers import customer, make_org, wait_for
from tests.api.test_relocation_e2e import FROM_SITE, TO_SITE
from tests.api.test_rma_e2e import carrier, scan
from tests.console.axe import assert_no_axe_violations
from tests.console.conftest import ConsoleUsers
from tests.console.support import (
    DESKTOP,
    PHONE,
    SCREENS,
    console_client,
    create_user,
    horizontal_overflow,
    login,
    screenshot,
)
from tests.support import Stack

pytestmark = pytest.mark.e2e

TECHNICIAN = "Noor Haddad"


async def order_relocation(stack: Stack, users: ConsoleUsers) -> dict[str, Any]:
    body = {
        "asset": {"sku": users.sku, "serial": f"LAB-{uuid.uuid4().hex[:8]}"},
        "provider_org_id": users.center.id,
        "from_site": FROM_SITE,
        "to_site": TO_SITE,
        "customer": customer(),
    }
    async with stack.http(users.retailer.key) as shop:
        created = await shop.post("/v1/relocations", json=body)
        assert created.status_code == 201, created.text
        relocation: dict[str, Any] = created.json()
        return relocation


async def relocation_json(stack: Stack, users: ConsoleUsers, case_id: str) -> dict[str, Any]:
    async with stack.http(users.retailer.key) as shop:
        answer = await shop.get(f"/v1/relocations/{case_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


def status_pill(html: str) -> str:
    match = re.search(r'class="status-pill">([^<]+)<', html)
    assert match, "no status on the page"
    return match.group(1)


async def submit(page: Page, button: str) -> int:
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name=button).click()
    answer = await navigation.value
    assert answer is not None
    return answer.status


def local(moment: datetime) -> str:
    """A `datetime-local` value (the page's times are UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


async def test_a_relocation_booked_checked_and_commissioned_in_the_console(
    stack: Stack, console_users: ConsoleUsers, browser_page: Page
) -> None:
    users, page = console_users, browser_page
    technician = await create_user(stack, users.center, "technician", name=TECHNICIAN)
    relocation = await order_relocation(stack, users)
    case_id, token = relocation["id"], relocation["tracking_token"]
    path = f"/console/field/relocations/{case_id}"

    await login(page, technician.email, technician.password)
    await page.goto("/console/field")
    to_book = page.locator("section", has=page.locator("#tobook-heading"))
    assert await to_book.get_by_role("link", name=re.compile(case_id)).count() == 1
    await to_book.get_by_role("link", name=re.compile(case_id)).click()
    await page.wait_for_url(f"**{path}")
    assert status_pill(await page.content()) == "Scheduling uninstall"
    assert "Ada Lovelace" in await page.locator("#customer").inner_text()

    # A visit in the past is refused by the API's rule, inline, and nothing is booked.
    await page.get_by_label("Starts at (UTC)").fill(local(datetime.now(UTC) - timedelta(days=1)))
    await page.evaluate("document.getElementById('starts_at').removeAttribute('min')")
    assert await submit(page, "Book visit") == 422
    assert "appointment_in_past" in await page.get_by_role("alert").inner_text()
    uninstall_at = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    await page.get_by_label("Starts at (UTC)").fill(local(uninstall_at))
    assert await page.get_by_label("Technician").input_value() == TECHNICIAN
    assert await submit(page, "Book visit") == 200
    assert status_pill(await page.content()) == "Uninstall scheduled"
    await assert_no_axe_violations(page)

    # The list: tomorrow at 09:30, at the old site.
    await page.goto("/console/field")
    tomorrow = page.locator(
        "section.day", has=page.get_by_role("heading", name=re.compile("^Tomorrow"))
    )
    visit = tomorrow.locator("li", has=page.get_by_role("link", name=re.compile(case_id)))
    text = await visit.inner_text()
    assert "09:30" in text and "Uninstall" in text and FROM_SITE["line1"] in text
    assert TECHNICIAN in text
    await assert_no_axe_violations(page)
    html = await page.content()
    for value in (customer()["email"], customer()["phone"], token):
        assert value not in html
    await screenshot(page, "console-field")
    await page.screenshot(path=str(SCREENS / "console-field.png"), full_page=True)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0

    # The uninstall visit with its checklist (a note on one item).
    await page.goto(path)
    checklist = page.locator("#checklist-form")
    for box in await checklist.locator("input[name=passed]").all():
        if await box.get_attribute("value") != "3":  # the optional extra row stays empty
            await box.check()
    await checklist.get_by_label("Note on “Unit drained and cleaned”").fill("2 L")
    assert await submit(page, "Uninstall done") == 200
    assert status_pill(await page.content()) == "Uninstalled"
    job = await relocation_json(stack, users, case_id)
    uninstall = job["checklists"]["uninstall"]
    assert [c["passed"] for c in uninstall] == [True, True, True]
    assert uninstall[1]["note"] == "2 L"

    # The carrier moves it; the reinstall is booked and done.
    transport = job["shipments"][0]["tracking_number"]
    for status in ("picked_up", "delivered"):
        assert (await carrier(stack, scan(transport, status))).status_code == 200
    async with stack.http(users.retailer.key) as shop:
        await wait_for(shop, f"/v1/relocations/{case_id}", lambda b: b["status"] == "delivered")
    await page.set_viewport_size(DESKTOP)
    await page.goto(path)
    await page.get_by_label("Starts at (UTC)").fill(local(uninstall_at + timedelta(days=2)))
    assert await submit(page, "Book visit") == 200
    assert status_pill(await page.content()) == "Reinstall scheduled"
    for box in await page.locator("#checklist-form input[name=passed]").all():
        if await box.get_attribute("value") != "3":
            await box.check()
    assert await submit(page, "Reinstall done") == 200
    assert status_pill(await page.content()) == "Reinstalled"

    # Commissioning with a failed item keeps it open; all passed completes it.
    checks = page.locator("#checklist-form input[name=passed]")
    await checks.nth(0).check()
    await checks.nth(1).check()
    await page.get_by_label("Note on “Customer shown the unit working”").fill("customer away")
    assert await submit(page, "Record commissioning") == 200
    assert status_pill(await page.content()) == "Reinstalled"
    for i in range(3):
        await page.locator("#checklist-form input[name=passed]").nth(i).check()
    await page.get_by_label("Another item (optional, recorded as passed if ticked below)").fill(
        "Site cleaned up"
    )
    await page.locator("#checklist-form input[name=passed]").nth(3).check()
    assert await submit(page, "Record commissioning") == 200
    assert status_pill(await page.content()) == "Completed"
    link = page.locator("#documents").get_by_role("link", name=re.compile("Relocation"))
    href = await link.get_attribute("href")
    assert href
    pdf = await page.request.get(href)
    assert pdf.status == 200
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(await pdf.body())).pages)
    assert case_id in text and "Site cleaned up" in text

    job = await relocation_json(stack, users, case_id)
    assert job["status"] == "completed"
    by_technician = {e["event"] for e in job["timeline"] if e["actor"].endswith(f":{TECHNICIAN}")}
    assert {
        "appointment_booked",
        "uninstalled",
        "reinstalled",
        "commissioning_failed",
        "commissioned",
    } <= by_technician


async def test_a_field_job_of_another_provider_is_not_found(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    users = console_users
    relocation = await order_relocation(stack, users)
    other = await make_org(stack, "repair_center")
    stranger = await create_user(stack, other, "technician")
    async with console_client(stack, stranger) as http:
        page = await http.get(f"/console/field/relocations/{relocation['id']}")
        assert page.status_code == 404 and 'role="alert"' in page.text
        assert relocation["id"] not in (await http.get("/console/field")).text
    async with console_client(stack, users.technician) as http:
        listed = await http.get("/console/field")
        assert listed.status_code == 200 and relocation["id"] in listed.text
        assert (await http.get("/console/field/spaceships/X-1")).status_code == 404


async def test_an_installation_with_training_booked_installed_and_commissioned(
    stack: Stack, console_users: ConsoleUsers, browser_page: Page
) -> None:
    users, page = console_users, browser_page
    body = {
        "asset": {"sku": users.sku, "serial": f"DC-{uuid.uuid4().hex[:8]}"},
        "provider_org_id": users.center.id,
        "site": TO_SITE,
        "customer": customer(),
        "training": True,
    }
    async with stack.http(users.retailer.key) as shop:
        created = await shop.post("/v1/installations", json=body)
        assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    path = f"/console/field/installations/{case_id}"

    await login(page, users.technician.email, users.technician.password)
    await page.goto("/console/field")
    to_book = page.locator("section", has=page.locator("#tobook-heading"))
    link = to_book.get_by_role("link", name=re.compile(case_id))
    assert "Installation visit" in await link.inner_text()
    await link.click()
    await page.wait_for_url(f"**{path}")
    assert status_pill(await page.content()) == "Scheduling"
    visit_at = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    await page.get_by_label("Starts at (UTC)").fill(local(visit_at))
    assert await submit(page, "Book visit") == 200
    assert status_pill(await page.content()) == "Scheduled"

    await page.goto("/console/field")
    visit = page.locator("li", has=page.get_by_role("link", name=re.compile(case_id)))
    assert "14:00" in await visit.inner_text()

    await page.goto(path)
    for i in range(3):
        await page.locator("#checklist-form input[name=passed]").nth(i).check()
    assert await submit(page, "Installation done") == 200
    assert status_pill(await page.content()) == "Installed"
    await assert_no_axe_violations(page)
    for i in range(3):
        await page.locator("#checklist-form input[name=passed]").nth(i).check()
    await page.get_by_label("Yes, training given").check()
    assert await submit(page, "Record commissioning") == 200
    assert status_pill(await page.content()) == "Completed"
    certificate = page.locator("#documents").get_by_role(
        "link", name=re.compile("Installation Certificate")
    )
    href = await certificate.get_attribute("href")
    assert href
    pdf = await page.request.get(href)
    assert pdf.status == 200
    async with stack.http(users.retailer.key) as shop:
        job = (await shop.get(f"/v1/installations/{case_id}")).json()
    assert job["status"] == "completed" and job["training_given"] is True
    assert [c["passed"] for c in job["checklists"]["installation"]] == [True, True, True]
