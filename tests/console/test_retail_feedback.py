"""Customer feedback in the retailer console, over real HTTP on the shared stack (SQLite and
PostgreSQL): the home page's "Low ratings to follow up" count and its list, the list's
paging and CSV, the rating on the case page, "Mark followed up" (through
`POST /v1/feedback/{feedback_id}/follow-up`, a form submitted twice acting once), the
API route's own answers to its owner and to strangers, and the list in a real Chromium
with no axe violation at 390 px."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.api.helpers import Org, make_org
from tests.api.test_feedback_e2e import cancelled, open_rma, rate
from tests.console.axe import assert_no_axe_violations
from tests.console.conftest import ConsoleUsers
from tests.console.support import (
    PHONE,
    console_client,
    create_user,
    csrf_of,
    horizontal_overflow,
    login,
)
from tests.console.test_retail_pages import alert_of, form_of
from tests.support import Stack

_TILE = re.compile(
    r'href="/console/feedback\?waiting=1"><strong class="count">(\d+)</strong>'
    r" <span>Low ratings to follow up</span>"
)


async def rated(
    stack: Stack, shop: Org, sku: str, rating: int, comment: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An RMA of `shop`, cancelled and rated by its customer: the RMA and the feedback."""
    rma = await cancelled(stack, shop, await open_rma(stack, shop, sku))
    async with stack.http() as customer:
        given = await rate(customer, rma["tracking_token"], rating, comment)
    assert given.status_code == 201, given.text
    return rma, given.json()


def follow_ups_on(home: str) -> int:
    found = _TILE.search(home)
    assert found, "the home page has no 'Low ratings to follow up' tile"
    return int(found.group(1))


def case_ids_in(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/console/rmas/([^"]+)">', html)


async def test_low_ratings_wait_on_the_home_page_until_marked_followed_up(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    shop, sku = console_users.retailer, console_users.sku
    happy, _ = await rated(stack, shop, sku, 5, "Lovely service")
    formula, _ = await rated(stack, shop, sku, 2, "=HYPERLINK(1)")
    unhappy, low = await rated(stack, shop, sku, 1, "Nobody called back")

    async with console_client(stack, console_users.staff) as console:
        assert follow_ups_on((await console.get("/console/")).text) == 2

        every = await console.get("/console/feedback")
        assert every.status_code == 200, every.text
        assert case_ids_in(every.text) == [unhappy["id"], formula["id"], happy["id"]]
        assert "Nobody called back" in every.text and "1 of 5" in every.text
        waiting = await console.get("/console/feedback", params={"waiting": "1"})
        assert case_ids_in(waiting.text) == [unhappy["id"], formula["id"]]
        assert waiting.text.count(">Mark followed up</button>") == 2

        # One a page: the next page's link leads to the next rating, and no further.
        first = await console.get("/console/feedback", params={"waiting": "1", "limit": "1"})
        assert case_ids_in(first.text) == [unhappy["id"]]
        next_href = re.search(r'href="\?([^"]+)" rel="next"', first.text)
        assert next_href, first.text
        second = await console.get(f"/console/feedback?{next_href.group(1).replace('&amp;', '&')}")
        assert case_ids_in(second.text) == [formula["id"]]
        assert 'rel="next"' not in second.text

        exported = await console.get("/console/feedback", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0] == ["Case", "Rating", "Comment", "Received", "Follow-up"]
        assert [r[0] for r in rows[1:]] == [unhappy["id"], formula["id"], happy["id"]]
        # A comment a spreadsheet would run as a formula is written as text.
        assert rows[2][2] == "'=HYPERLINK(1)"
        assert rows[1][4] == "Waiting for a call back" and rows[3][4] == ""

        refused = await console.get("/console/feedback", params={"limit": "0"})
        assert refused.status_code == 422
        assert "limit must be 1 to 200" in alert_of(refused.text)
        crafted = await console.get("/console/feedback", params={"cursor": "%%%"})
        assert crafted.status_code == 422

        # The case page shows the rating, and marks it followed up.
        case_url = f"/console/rmas/{unhappy['id']}"
        page = await console.get(case_url)
        assert "Customer feedback" in page.text and "Nobody called back" in page.text
        assert "Waiting for a call back" in page.text
        form = form_of(page.text, "follow-up") | {"back": case_url}
        action = f"/console/feedback/{low['id']}/follow-up"
        no_csrf = await console.post(action, data={**form, "csrf_token": "forged"})
        assert no_csrf.status_code == 403
        no_nonce = await console.post(action, data={**form, "form_nonce": ""})
        assert no_nonce.status_code == 422
        assert "the form is out of date" in alert_of(no_nonce.text)

        marked = await console.post(action, data=form)
        assert marked.status_code == 303, marked.text
        assert marked.headers["location"] == f"{case_url}?done=followed_up"
        shown = await console.get(marked.headers["location"])
        assert "marked followed up" in shown.text
        followed = re.search(r'class="follow-up">Followed up ([^<]+)<', shown.text)
        assert followed, shown.text
        assert ">Mark followed up</button>" not in shown.text
        # The same rendered form again (a double click): the same answer, nothing new.
        again = await console.post(action, data=form)
        assert again.status_code == 303
        assert followed.group(0) in (await console.get(case_url)).text

        assert follow_ups_on((await console.get("/console/")).text) == 1
        waiting = await console.get("/console/feedback", params={"waiting": "1"})
        assert case_ids_in(waiting.text) == [formula["id"]]

        # A console user of another retailer cannot reach this one's feedback.
        stranger = await create_user(stack, await make_org(stack, "retailer"), "owner")
    async with console_client(stack, stranger) as other:
        theirs = await other.get("/console/feedback")
        # Their own page's CSRF token and a well-formed nonce: only the feedback is not theirs.
        form = {"csrf_token": csrf_of(theirs.text), "form_nonce": "n" * 22}
        assert case_ids_in(theirs.text) == []
        formula_id = await feedback_id_of(stack, shop, formula["id"])
        refused = await other.post(f"/console/feedback/{formula_id}/follow-up", data=form)
        assert refused.status_code == 404
        assert "feedback not found" in alert_of(refused.text)
    async with console_client(stack, console_users.staff) as console:
        assert follow_ups_on((await console.get("/console/")).text) == 1


async def feedback_id_of(stack: Stack, shop: Org, case_id: str) -> str:
    async with stack.http(shop.key) as http:
        listed = (await http.get("/v1/feedback")).json()["items"]
    return str(next(f["id"] for f in listed if f["case_id"] == case_id))


async def test_the_follow_up_route_is_idempotent_and_walled(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    shop, sku = console_users.retailer, console_users.sku
    _, low = await rated(stack, shop, sku, 2, "Slow")
    path = f"/v1/feedback/{low['id']}/follow-up"
    stranger = await make_org(stack, "retailer")
    async with stack.http(stranger.key) as other:
        assert (await other.post(path)).status_code == 404
    async with stack.http(console_users.center.key) as center:
        assert (await center.post(path)).status_code == 403
    async with stack.http(shop.key) as http:
        first = await http.post(path, headers={"Idempotency-Key": "follow-1"})
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["id"] == low["id"] and answer["followed_up_at"]
        assert answer["needs_follow_up"] is True
        for headers in ({"Idempotency-Key": "follow-1"}, {"Idempotency-Key": "follow-2"}, {}):
            again = await http.post(path, headers=headers)
            assert again.status_code == 200 and again.json() == answer
        missing = await http.post("/v1/feedback/no-such-feedback/follow-up")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        listed = (await http.get("/v1/feedback")).json()["items"]
        assert [f["followed_up_at"] for f in listed] == [answer["followed_up_at"]]


async def test_the_feedback_list_is_accessible_on_a_phone(
    stack: Stack, console_users: ConsoleUsers, browser_page: Page
) -> None:
    shop, sku = console_users.retailer, console_users.sku
    rma, _ = await rated(stack, shop, sku, 1, "The courier never came, and nobody called.")
    page = browser_page
    await login(page, console_users.staff.email, console_users.staff.password)
    await page.get_by_role("link", name=re.compile("Low ratings to follow up")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Feedback: low ratings to follow up"
    )
    await assert_no_axe_violations(page)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0, f"{page.url} scrolls sideways at 390 px"
    await assert_no_axe_violations(page)

    await page.get_by_role("button", name=f"Mark followed up: the feedback on {rma['id']}").click()
    await expect(page.get_by_role("status")).to_have_text("Marked followed up.")
    await expect(page.get_by_text("No low ratings wait for a follow-up.")).to_be_visible()
    await assert_no_axe_violations(page)
