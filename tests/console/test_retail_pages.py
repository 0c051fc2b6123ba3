"""The retailer console over real HTTP on the shared stack (SQLite and PostgreSQL): the home
page's counts and their lists, search and CSV, a case page's buttons, commands through the
JSON API's own code (the timeline names the user, a form submitted twice acts once, a
refusal is an inline alert), CSRF, and one statement per list page."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.console.retail_kinds import KINDS
from api.deps import Resources
from tests.api.helpers import add_product, wait_for
from tests.api.test_list_queries import counting
from tests.api.test_rma_e2e import rma_body, with_label
from tests.api.world import World, world
from tests.console.conftest import ConsoleUsers
from tests.console.support import console_client, create_user, csrf_of, sign_in
from tests.support import Stack

__all__ = ["world"]  # the fixture, imported for pytest

_NONCE = re.compile(r'name="form_nonce" value="([^"]+)"')
_ALERT = re.compile(r'<p role="alert"[^>]*>(.*?)</p>', re.S)


def form_of(html: str, action: str) -> dict[str, str]:
    """The CSRF token and nonce of the form posting to `.../<action>` on a page."""
    start = html.index(f'/{action}"')
    form = html[start : html.index("</form>", start)]
    nonce = _NONCE.search(form)
    assert nonce, f"the {action} form has no nonce"
    return {"csrf_token": csrf_of(html), "form_nonce": nonce.group(1)}


def alert_of(html: str) -> str:
    found = _ALERT.search(html)
    assert found, "the page shows no alert"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1)))


async def pending_rma(stack: Stack, users: ConsoleUsers, **overrides: Any) -> dict[str, Any]:
    """An RMA above the review threshold, made through the JSON API."""
    sku = (await add_product(stack, users.retailer, price="1500.00", category=users.category))[
        "sku"
    ]
    body = rma_body(sku) | overrides
    async with stack.http(users.retailer.key) as http:
        created = await http.post("/v1/rmas", json=body)
    assert created.status_code == 201, created.text
    rma: dict[str, Any] = created.json()
    assert rma["status"] == "pending_review"
    return rma


async def test_home_counts_link_to_lists_that_search_and_export(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    rma = await pending_rma(stack, console_users)
    serial = rma["items"][0]["serial"]
    async with console_client(stack, console_users.staff) as console:
        home = await console.get("/console/")
        assert home.status_code == 200
        assert re.search(
            r'href="/console/rmas\?status=pending_review"><strong class="count">1</strong>',
            home.text,
        ), home.text

        listed = await console.get("/console/rmas", params={"status": "pending_review"})
        assert rma["id"] in listed.text
        for search in (rma["id"], rma["order_ref"], "ADA@example.com", serial):
            found = await console.get("/console/rmas", params={"q": search})
            assert found.status_code == 200
            assert f'href="/console/rmas/{rma["id"]}"' in found.text, search
        missing = await console.get("/console/rmas", params={"q": "no-such-thing"})
        assert rma["id"] not in missing.text

        exported = await console.get("/console/rmas", params={"q": serial, "format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][:3] == ["Case", "Status", "Customer"]
        assert [r[0] for r in rows[1:]] == [rma["id"]]
        assert rows[1][1:4] == ["pending_review", "Ada Lovelace", "ada@example.com"]

        # Bad filters are a 422 page with the reason, never a 500.
        bad = await console.get("/console/rmas", params={"status": "shipped"})
        assert bad.status_code == 422
        assert "status must be one of" in alert_of(bad.text)
        bad_cursor = await console.get("/console/rmas", params={"cursor": "not-ours"})
        assert bad_cursor.status_code == 422
        assert (await console.get("/console/rmas", params={"q": "a\x00b"})).status_code == 422


async def test_a_clerk_approves_once_and_a_refusal_is_inline(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    rma = await pending_rma(stack, console_users)
    page_url = f"/console/rmas/{rma['id']}"
    async with console_client(stack, console_users.staff) as console:
        page = await console.get(page_url)
        assert page.status_code == 200
        # Only what the workflow accepts in pending_review: no receive, no inspection.
        for action in ("approve", "reject", "cancel"):
            assert f'action="{page_url}/{action}"' in page.text
        for action in ("receive", "inspection"):
            assert f'action="{page_url}/{action}"' not in page.text

        approve = form_of(page.text, "approve")
        no_csrf = await console.post(
            f"{page_url}/approve", data={"form_nonce": approve["form_nonce"]}
        )
        assert no_csrf.status_code == 403

        first = await console.post(f"{page_url}/approve", data=approve)
        assert first.status_code == 303, first.text
        # The same form again (a double click): the first answer, no second command.
        again = await console.post(f"{page_url}/approve", data=approve)
        assert again.status_code == 303, again.text

        async with stack.http(console_users.retailer.key) as api:
            body = await wait_for(api, f"/v1/rmas/{rma['id']}", with_label)
        approvals = [e for e in body["timeline"] if e["event"] == "approved"]
        assert len(approvals) == 1, body["timeline"]
        assert console_users.staff.name in approvals[0]["actor"]

        # A stale page's approve (a fresh form): the workflow refuses, said inline.
        stale = await console.post(
            f"{page_url}/approve", data=approve | {"form_nonce": uuid.uuid4().hex}
        )
        assert stale.status_code == 409
        assert "cannot approve while awaiting_return" in alert_of(stale.text)

        shown = await console.get(page_url)
        assert 'data-status="awaiting_return"' in shown.text
        assert f'action="{page_url}/receive"' in shown.text
        assert "/console/documents/" in shown.text  # the label and slip, to print


async def test_technicians_and_strangers_are_kept_out(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    rma = await pending_rma(stack, console_users)
    async with console_client(stack, console_users.technician) as technician:
        refused = await technician.get("/console/rmas")
        assert refused.status_code == 403
        assert (await technician.get(f"/console/rmas/{rma['id']}")).status_code == 403
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        answer = await anonymous.get("/console/rmas")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")


@pytest.fixture
async def own_app(stack: Stack) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    """The app of its own on the stack's database, so that only its statements count."""
    app = create_app(stack.settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
            yield http, app.state.resources


async def test_a_list_page_is_one_statement_whatever_its_size(
    stack: Stack, console_users: ConsoleUsers, own_app: tuple[httpx.AsyncClient, Resources]
) -> None:
    for _ in range(3):
        await pending_rma(stack, console_users)
    http, resources = own_app
    answer = await sign_in(http, console_users.owner.email, console_users.owner.password)
    assert answer.status_code == 303
    costs = []
    for limit in (1, 3):
        await http.get("/console/rmas", params={"limit": limit})  # the session is warm
        with counting(resources) as statements:
            page = await http.get("/console/rmas", params={"limit": limit})
        assert page.status_code == 200
        assert page.text.count('<th scope="row"><a href="/console/rmas/') == limit
        case_reads = [s for s in statements if "FROM cases" in s]
        assert len(case_reads) == 1, case_reads
        costs.append(len(statements))
    assert costs[0] == costs[1], costs


async def test_every_case_type_lists_and_shows_its_cases(stack: Stack, world: World) -> None:
    """Each case type's list, CSV and case page, for a retailer with a case of each (a
    repair found beyond repair and the replacement it started, a relocation booked, a plan
    with a claim): what each page shows of its own kind renders."""
    staff = await create_user(stack, world.retailer, "staff")
    async with console_client(stack, staff) as console:
        for kind in KINDS:
            listed = await console.get(f"/console/{kind.path}")
            assert listed.status_code == 200, (kind.path, listed.text)
            exported = await console.get(f"/console/{kind.path}", params={"format": "csv"})
            assert exported.text.startswith("Case,Status,Customer"), kind.path
            case = world.cases.get(kind.case_type)
            if case is None:
                continue
            assert f'href="/console/{kind.path}/{case["id"]}"' in listed.text, kind.path
            assert case["id"] in exported.text
            page = await console.get(f"/console/{kind.path}/{case['id']}")
            assert page.status_code == 200, (kind.path, page.text)
            assert 'class="status"' in page.text
            assert "Timeline" in page.text
        repair = await console.get(f"/console/repairs/{world.cases['repair']['id']}")
        replacement_id = world.worker_answers["repair"]["replacement_id"]
        assert f'href="/console/replacements/{replacement_id}"' in repair.text  # linked
        # Another retailer's case is not found, whatever its type.
        other = await create_user(stack, world.other_retailer, "owner")
    async with console_client(stack, other) as stranger:
        for kind in KINDS:
            case = world.cases.get(kind.case_type)
            if case is not None:
                answer = await stranger.get(f"/console/{kind.path}/{case['id']}")
                assert answer.status_code == 404, kind.path
                assert case["id"] not in (await stranger.get(f"/console/{kind.path}")).text
