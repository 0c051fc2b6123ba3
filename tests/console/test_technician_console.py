"""The repair center technician's console end to end, on SQLite and PostgreSQL, with the
real dev server and worker, in Debian's headless Chromium: a technician takes a paid repair
from the unit's arrival to the parcel leaving entirely in the console (the diagnosis form by
keyboard alone, the customer approving the quote through the tracking API, the QA
checklist, the label and certificate printed from the page, the carrier's scan); the board
shows every open job by status with its SLA (a breached one said in words); axe finds
nothing on the board or the job page; a resent form has no second effect and a stale one is
refused inline; the customer's contact details and token never reach the pages; another
center's technician and a retailer's user cannot open the job."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, ViewportSize
from pypdf import PdfReader

from api.app import create_app
from api.deps import Resources
from tests.api.helpers import customer, wait_for
from tests.api.test_list_queries import counting
from tests.api.test_repair_e2e import new_center
from tests.api.test_rma_e2e import carrier, scan
from tests.console.axe import assert_no_axe_violations
from tests.console.conftest import ConsoleUsers
from tests.console.support import (
    DESKTOP,
    PHONE,
    SCREENS,
    console_client,
    create_user,
    csrf_of,
    horizontal_overflow,
    login,
    screenshot,
    sign_in,
)
from tests.support import Stack

pytestmark = pytest.mark.e2e

TABLET = ViewportSize(width=768, height=1024)
TECHNICIAN = "Sam Rivera"


def repair_body(sku: str, coverage: str, fault: str = "Pump does not prime") -> dict[str, Any]:
    return {
        "unit": {
            "sku": sku,
            "serial": f"SN-{uuid.uuid4().hex[:8]}",
            "purchased_at": (datetime.now(UTC) - timedelta(days=500)).isoformat(),
        },
        "fault": fault,
        "customer": customer(),
        "coverage": coverage,
    }


async def open_repair(stack: Stack, users: ConsoleUsers, coverage: str, **kw: Any) -> str:
    async with stack.http(users.retailer.key) as shop:
        created = await shop.post("/v1/repairs", json=repair_body(users.sku, coverage, **kw))
        assert created.status_code == 201, created.text
        job = await wait_for(
            shop,
            f"/v1/repairs/{created.json()['id']}",
            lambda b: any(d["kind"] == "return_label" for d in b["documents"]),
        )
        assert job["assigned_center"] == users.center.id
        return str(job["id"])


async def job_json(stack: Stack, users: ConsoleUsers, repair_id: str) -> dict[str, Any]:
    async with stack.http(users.retailer.key) as shop:
        answer = await shop.get(f"/v1/repairs/{repair_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


async def click_and_wait(page: Page, name: str) -> None:
    """Press a form's button and wait for the page the form answers with."""
    async with page.expect_navigation():
        await page.get_by_role("button", name=name).click()


def status_pill(html: str) -> str:
    match = re.search(r'class="status-pill">([^<]+)<', html)
    assert match, "no status on the job page"
    return match.group(1)


async def assert_private(page: Page, token: str) -> None:
    """The repair center sees the customer as name and address only (api.md)."""
    html = await page.content()
    for value in (customer()["email"], customer()["phone"], token):
        assert value not in html, f"{value!r} on {page.url}"


async def test_a_repair_from_arrival_to_shipped_in_the_console(
    stack: Stack, console_users: ConsoleUsers, browser_page: Page
) -> None:
    users, page = console_users, browser_page
    technician = await create_user(stack, users.center, "technician", name=TECHNICIAN)

    # A job received on a turnaround of one second: late as soon as it is on the bench.
    async with stack.http(users.retailer.key) as shop:
        assert (await shop.put("/v1/policy", json={"repair_turnaround": "PT1S"})).status_code == 200
    late = await open_repair(stack, users, "warranty", fault="Grinder jams")
    async with stack.http(users.retailer.key) as shop:
        assert (await shop.put("/v1/policy", json={"repair_turnaround": "P5D"})).status_code == 200
    async with stack.http(users.center.key) as bench:
        received = await bench.post(f"/v1/repairs/{late}/status", json={"status": "received"})
        assert received.status_code == 200, received.text
        await wait_for(bench, f"/v1/repairs/{late}", lambda b: b["sla_breached"])
    repair_id = await open_repair(stack, users, "paid")
    token = (await job_json(stack, users, repair_id))["tracking_token"]
    assert token

    await login(page, technician.email, technician.password)
    await page.goto("/console/jobs")
    assert await page.title() == "Jobs · aftersales"
    awaiting = page.locator("section.board-column", has=page.locator("#col-awaiting_unit"))
    assert await awaiting.get_by_role("link", name=repair_id).count() == 1
    late_card = page.locator("li.job-card", has=page.get_by_role("link", name=late))
    late_text = await late_card.inner_text()
    assert "SLA breached" in late_text and "Overdue by" in late_text
    assert (
        "Clock not started"
        in await page.locator(
            "li.job-card", has=page.get_by_role("link", name=repair_id)
        ).inner_text()
    )
    await assert_private(page, token)
    await assert_no_axe_violations(page)
    # htmx (from /console/static under the CSP) re-reads the board as its poll does, and
    # swaps in the board alone.
    async with page.expect_request(
        lambda r: r.url.endswith("/console/jobs") and r.headers.get("hx-request") == "true"
    ):
        await page.evaluate(
            "() => htmx.ajax('GET', '/console/jobs', "
            "{target: '#board', select: '#board', swap: 'outerHTML'})"
        )
    await page.wait_for_function("() => !document.querySelector('#board.htmx-request')")
    assert await page.locator("#board").count() == 1
    assert await page.locator("h1").count() == 1
    assert await page.get_by_role("link", name=repair_id).count() == 1

    # The job page: the unit arrives, diagnosis starts.
    await awaiting.get_by_role("link", name=repair_id).click()
    await page.wait_for_url(f"**/console/jobs/{repair_id}")
    assert status_pill(await page.content()) == "Awaiting unit"
    assert await page.locator("#customer").inner_text() == (
        "Ada Lovelace\n12 Analytical Row, London, N1 9GU, GB"
    )
    await assert_private(page, token)
    await click_and_wait(page, "Unit received")
    assert status_pill(await page.content()) == "Received"
    assert "Due in 4 d 23 h" in await page.locator("#sla").inner_text()
    await click_and_wait(page, "Start diagnosis")
    assert status_pill(await page.content()) == "Diagnosing"
    await assert_no_axe_violations(page)

    # The diagnosis by keyboard alone: into the first field, then Tab from field to field.
    await page.get_by_label("Fault code").focus()
    await page.keyboard.type("E-PUMP")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "findings"
    await page.keyboard.type("Pump seized; replace pump and gasket.")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # the first choice of the group: repairable
    assert await page.get_by_label("Yes, it can be repaired").is_checked()
    await page.keyboard.press("Tab")
    for value in ("P-1001", "Pump"):
        await page.keyboard.type(value)
        await page.keyboard.press("Tab")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("1")
    await page.keyboard.press("Tab")
    await page.keyboard.type("40.00")
    for _ in range(4 * 3 + 1):  # past the three empty part rows
        await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "labor_minutes"
    await page.keyboard.type("45")
    # The job page with its diagnosis form filled in, at phone and desktop widths.
    await screenshot(page, "console-job")
    await page.screenshot(path=str(SCREENS / "console-job.png"), full_page=True)
    for size in (PHONE, TABLET):
        await page.set_viewport_size(size)
        assert await horizontal_overflow(page) == 0
    await page.set_viewport_size(DESKTOP)
    await page.get_by_label("Labour (minutes)").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    html = await page.content()
    assert status_pill(html) == "Quote with customer", html
    quote = await page.locator("#quote").inner_text()
    # $40.00 of parts and 45 minutes at the center's $60.00 an hour.
    assert "$40.00" in quote and "$45.00" in quote and "$85.00" in quote
    assert "Waiting for the customer" in quote
    assert "Clock paused" in await page.locator("#sla").inner_text()
    await assert_no_axe_violations(page)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0
    await page.set_viewport_size(DESKTOP)

    # The customer approves on the tracking API; parts are listed, so the job waits for them.
    async with httpx.AsyncClient(base_url=stack.base_url) as anyone:
        approved = await anyone.post(f"/v1/track/{token}/quote", json={"approve": True})
        assert approved.status_code == 200, approved.text
    await page.reload()
    assert status_pill(await page.content()) == "Awaiting parts"
    await click_and_wait(page, "Parts in: start repair")
    await click_and_wait(page, "Repair done: to quality check")
    assert status_pill(await page.content()) == "Quality check"

    # QA: a pass with an item not ticked is refused on the page, in words, nothing sent.
    checks = page.locator("#qa-form input[name=check]")
    for i in range(await checks.count() - 1):
        await checks.nth(i).check()
    await page.get_by_label("Notes").fill("Ran three cycles.")
    async with page.expect_navigation() as refused_page:
        await page.get_by_role("button", name="Pass: ready to ship").click()
    answer = await refused_page.value
    assert answer is not None and answer.status == 422
    alert = await page.get_by_role("alert").inner_text()
    assert "is not ticked" in alert
    assert await page.get_by_label("Notes").input_value() == "Ran three cycles."
    assert status_pill(await page.content()) == "Quality check"
    await checks.nth(await checks.count() - 1).check()
    await click_and_wait(page, "Pass: ready to ship")
    assert status_pill(await page.content()) == "Ready to ship"
    await assert_no_axe_violations(page)

    # The label and the certificate print from the page.
    documents = page.locator("#documents")
    label_link = documents.get_by_role("link", name=re.compile("Shipping label"))
    certificate_link = documents.get_by_role("link", name=re.compile("Certificate of Repair"))
    for link, words in ((label_link, "Manchester"), (certificate_link, repair_id)):
        href = await link.get_attribute("href")
        assert href and href.startswith("/console/documents/")
        pdf = await page.request.get(href)
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(await pdf.body())).pages)
        assert words in text

    # The carrier picks the parcel up: the job is shipped, on the board too.
    job = await job_json(stack, users, repair_id)
    outbound = next(s for s in job["shipments"] if s["direction"] == "outbound")
    assert (await carrier(stack, scan(outbound["tracking_number"], "picked_up"))).status_code == 200
    await wait_for_status(stack, users, repair_id, "shipped")
    await page.goto("/console/jobs")
    shipped = page.locator("section.board-column", has=page.locator("#col-shipped"))
    assert await shipped.get_by_role("link", name=repair_id).count() == 1

    # Every step the technician took carries their name on the timeline.
    job = await job_json(stack, users, repair_id)
    by_technician = {e["event"] for e in job["timeline"] if e["actor"].endswith(f":{TECHNICIAN}")}
    assert {"received", "diagnosing", "quoted", "parts_received", "quality_check"} <= by_technician
    assert "qa_passed" in by_technician
    assert job["diagnosis"]["parts"][0]["part_no"] == "P-1001"
    qa = next(e for e in job["timeline"] if e["event"] == "qa_passed")
    assert "Checklist 4/4 passed" in qa["detail"]["notes"]

    # The board at phone, tablet and desktop widths; no sideways scrolling on the phone.
    await page.get_by_role("heading", name="Jobs", level=1).wait_for()
    await screenshot(page, "console-jobs")
    await page.screenshot(path=str(SCREENS / "console-jobs.png"), full_page=True)
    for size in (PHONE, TABLET):
        await page.set_viewport_size(size)
        assert await horizontal_overflow(page) == 0
    await page.set_viewport_size(DESKTOP)


async def wait_for_status(stack: Stack, users: ConsoleUsers, repair_id: str, status: str) -> None:
    async with stack.http(users.retailer.key) as shop:
        await wait_for(shop, f"/v1/repairs/{repair_id}", lambda b: b["status"] == status)


async def test_a_resent_form_has_no_second_effect_and_a_stale_one_is_refused_inline(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    users = console_users
    repair_id = await open_repair(stack, users, "warranty")
    path = f"/console/jobs/{repair_id}"
    async with console_client(stack, users.technician) as http:
        page = await http.get(path)
        assert page.status_code == 200, page.text
        form = _status_form(page.text, "received")
        first = await http.post(f"{path}/status", data=form)
        again = await http.post(f"{path}/status", data=form)  # a double click
        assert first.status_code == again.status_code == 303, (first.text, again.text)
        job = await job_json(stack, users, repair_id)
        assert [e["event"] for e in job["timeline"]].count("received") == 1

        # The same step from a form rendered before the job moved on (a new key): refused
        # with the reason on the page, never a 500.
        stale = dict(form, form_key=f"stale-{uuid.uuid4().hex}")
        refused = await http.post(f"{path}/status", data=stale)
        assert refused.status_code == 409, refused.text
        assert 'role="alert"' in refused.text and "has moved on" in refused.text
        assert "It is received now" in refused.text

        # A form without its CSRF token is refused before anything is sent.
        no_csrf = {k: v for k, v in _status_form(refused.text, "diagnosing").items()}
        no_csrf.pop("csrf_token")
        assert (await http.post(f"{path}/status", data=no_csrf)).status_code == 403
        # Bad input is a page with the reason, not a 500.
        junk = dict(_status_form(refused.text, "diagnosing"), status="exploded")
        bad = await http.post(f"{path}/status", data=junk)
        assert bad.status_code == 422 and 'role="alert"' in bad.text
        job = await job_json(stack, users, repair_id)
        assert job["status"] == "received"


def _status_form(html: str, status: str) -> dict[str, str]:
    """The fields of the job page's button form for `status`."""
    match = re.search(r'<form method="post" action="[^"]+/status">(.*?)</form>', html, re.S)
    assert match, "no status form on the page"
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', match.group(1))
    )
    assert fields.get("status") == status, fields
    return fields | {"csrf_token": csrf_of(html)}


async def test_only_the_assigned_centers_technicians_open_a_job(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    users = console_users
    repair_id = await open_repair(stack, users, "warranty")
    other_center = await new_center(stack, f"other-{uuid.uuid4().hex[:6]}")
    stranger = await create_user(stack, other_center, "technician")
    async with console_client(stack, stranger) as http:
        page = await http.get(f"/console/jobs/{repair_id}")
        assert page.status_code == 404 and 'role="alert"' in page.text
        assert repair_id not in (await http.get("/console/jobs")).text
        job = await job_json(stack, users, repair_id)
        document = job["documents"][0]["id"]
        assert (await http.get(f"/console/documents/{document}")).status_code == 404
    async with console_client(stack, users.staff) as http:
        assert (await http.get("/console/jobs")).status_code == 403
        assert (await http.get(f"/console/jobs/{repair_id}")).status_code == 403
    async with console_client(stack, users.center_owner) as http:
        board = await http.get("/console/jobs")
        assert board.status_code == 200 and repair_id in board.text
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        answer = await anonymous.get("/console/jobs")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login?next=/console/jobs")


async def test_the_board_is_one_query_however_many_jobs(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    """The board reads its jobs in one statement (the session's own reads aside), and as
    many for 4 jobs as for 2: an app of its own on the stack's database, so only its
    statements are counted."""
    users = console_users
    app = create_app(stack.settings)
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            answer = await sign_in(http, users.technician.email, users.technician.password)
            assert answer.status_code == 303, answer.text
            costs = []
            for _ in range(2):
                for _ in range(2):
                    await open_repair(stack, users, "warranty")
                await http.get("/console/jobs")  # the session's last use is recorded by now
                with counting(resources) as statements:
                    board = await http.get("/console/jobs")
                assert board.status_code == 200, board.text
                reading_cases = [s for s in statements if re.search(r"\bFROM cases\b", s)]
                assert len(reading_cases) == 1, reading_cases
                costs.append(len(statements))
            assert costs[0] == costs[1], costs
            assert board.text.count('<li class="job-card') == 4
