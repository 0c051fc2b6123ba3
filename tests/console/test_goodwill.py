"""Goodwill, end to end on the shared stack (SQLite and PostgreSQL) with the real dev server
and worker: a return outside the window and coverage accepted with `override` (by the
retailer's key, and by a staff member through the console, whose name is on the timeline),
and the restocking fee waived before inspection so a grade B refund is in full."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest

from tests.api.helpers import make_org
from tests.api.test_rma_e2e import rma_body, wait_until, with_label
from tests.console.conftest import ConsoleUsers
from tests.console.support import console_client, csrf_of
from tests.support import Stack

pytestmark = pytest.mark.e2e

REASON = "Long-time customer; the speaker died a week after the warranty"


def _created_entry(rma: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = next(e for e in rma["timeline"] if e["event"] == "created")
    return entry


async def test_goodwill_by_key_skips_the_window_and_coverage(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    retailer, sku = console_users.retailer, console_users.sku
    async with stack.http(retailer.key) as http:
        # Bought 400 days ago: past the 30-day window and the 12-month warranty.
        late = rma_body(sku, days_ago=400)
        refused = await http.post("/v1/rmas", json=late)
        assert refused.status_code == 201
        assert refused.json()["status"] == "rejected"
        assert refused.json()["reason"] == "outside_return_window"

        goodwill = {**rma_body(sku, days_ago=400), "override": {"reason": REASON}}
        created = await http.post("/v1/rmas", json=goodwill)
        assert created.status_code == 201, created.text
        rma = created.json()
        assert rma["status"] == "awaiting_return"
        assert rma["coverage"] == "goodwill"
        assert rma["reason"] is None
        entry = _created_entry(rma)
        assert entry["actor"] == f"retailer:{retailer.id}"  # a key: no person to name
        assert entry["detail"]["goodwill_reason"] == REASON
        decided = next(e for e in rma["timeline"] if e["event"] == "authorized")
        assert decided["detail"]["coverage"] == "goodwill"
        # The return goes on as any other: a label to send the unit back with.
        await wait_until(http, rma["id"], with_label)

        # The other rules still hold: one open case per unit.
        serial = goodwill["items"][0]["serial"]
        again = {**rma_body(sku, serial=serial, days_ago=400), "override": {"reason": REASON}}
        duplicate = await http.post("/v1/rmas", json=again)
        assert duplicate.json()["status"] == "rejected"
        assert duplicate.json()["reason"] == "duplicate_open_case"

        for bad in ({}, {"reason": ""}, {"reason": "x" * 201}, {"reason": "a\x00b"}):
            body = {**rma_body(sku, days_ago=400), "override": bad}
            refusal = await http.post("/v1/rmas", json=body)
            assert refusal.status_code == 422, bad
            assert refusal.json()["code"] == "validation_error"

    async with stack.http(console_users.center.key) as center:
        body = {**rma_body(sku, days_ago=400), "override": {"reason": REASON}}
        assert (await center.post("/v1/rmas", json=body)).status_code == 403


def _nonce(html: str) -> str:
    found = re.search(r'name="form_nonce" value="([^"]+)"', html)
    assert found, "the form has no nonce"
    return unescape(found.group(1))


async def test_goodwill_from_the_console_names_the_staff_member(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    staff, retailer = console_users.staff, console_users.retailer
    purchased = (datetime.now(UTC) - timedelta(days=400)).date().isoformat()
    async with console_client(stack, staff) as console:
        form = await console.get("/console/rmas/new")
        assert form.status_code == 200, form.text
        posted = await console.post(
            "/console/rmas/new",
            data={
                "csrf_token": csrf_of(form.text),
                "form_nonce": _nonce(form.text),
                "order_ref": "SO-GOODWILL",
                "purchased_at": purchased,
                "customer_name": "Ada Lovelace",
                "customer_email": "ada@example.com",
                "customer_line1": "12 Analytical Row",
                "customer_city": "London",
                "customer_postal_code": "N1 9GU",
                "customer_country": "GB",
                "sku": console_users.sku,
                "serial": "SN-GOODWILL-1",
                "quantity": "1",
                "reason": "defective",
                "resolution": "refund",
                "goodwill": "on",
                "override_reason": REASON,
            },
        )
        assert posted.status_code == 303, posted.text
        rma_id = posted.headers["location"].rsplit("/", 1)[-1]

    async with stack.http(retailer.key) as http:
        rma = (await http.get(f"/v1/rmas/{rma_id}")).json()
    assert rma["coverage"] == "goodwill"
    entry = _created_entry(rma)
    assert entry["actor"] == f"retailer:{retailer.id}:{staff.name}"
    assert entry["detail"]["goodwill_reason"] == REASON


async def test_waiving_the_restocking_fee_refunds_a_grade_b_return_in_full(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    retailer, sku = console_users.retailer, console_users.sku  # 199.99, fee 15 %
    stranger = await make_org(stack, "retailer")
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        rma_id = created.json()["id"]
        await wait_until(http, rma_id, with_label)
        path = f"/v1/rmas/{rma_id}/waive-restocking-fee"

        async with stack.http(stranger.key) as other:
            assert (await other.post(path, json={"reason": REASON})).status_code == 404
        refused = await http.post(path, json={"reason": " "})
        assert refused.status_code == 422

        key = {"Idempotency-Key": f"waive-{rma_id}"}
        waived = await http.post(path, json={"reason": REASON}, headers=key)
        assert waived.status_code == 200, waived.text
        assert waived.json()["status"] == "awaiting_return"  # not a step of its own
        replayed = await http.post(path, json={"reason": REASON}, headers=key)
        assert replayed.status_code == 200
        assert replayed.json() == waived.json()
        twice = await http.post(path, json={"reason": "again"})
        assert twice.status_code == 409
        assert twice.json()["code"] == "fee_already_waived"

        rma = (await http.get(f"/v1/rmas/{rma_id}")).json()
        entries = [e for e in rma["timeline"] if e["event"] == "restocking_fee_waived"]
        assert len(entries) == 1
        assert entries[0]["actor"] == f"retailer:{retailer.id}"
        assert entries[0]["detail"] == {"waiver_reason": REASON}

        assert (await http.post(f"/v1/rmas/{rma_id}/receive")).status_code == 200
        inspected = await http.post(
            f"/v1/rmas/{rma_id}/inspection", json={"grade": "B", "serial_matches": True}
        )
        assert inspected.status_code == 200, inspected.text
        done = await wait_until(http, rma_id, lambda b: b["status"] == "completed")
        assert done["refund"] == {"amount": "199.99", "currency": "USD"}
        refunded = next(e for e in done["timeline"] if e["event"] == "refunded")
        assert refunded["detail"]["restocking_fee"].endswith("0.00")

        late = await http.post(path, json={"reason": REASON})
        assert late.status_code == 409
        assert late.json()["code"] == "already_inspected"

    # The customer's tracking never shows the staff's reasons.
    async with httpx.AsyncClient(base_url=stack.base_url) as public:
        tracked = await public.get(f"/v1/track/{created.json()['tracking_token']}")
    assert REASON not in tracked.text


async def test_a_fee_on_a_cancelled_return_cannot_be_waived(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    async with stack.http(console_users.retailer.key) as http:
        rma_id = (await http.post("/v1/rmas", json=rma_body(console_users.sku))).json()["id"]
        await wait_until(http, rma_id, with_label)
        assert (await http.post(f"/v1/rmas/{rma_id}/cancel")).status_code == 200
        refused = await http.post(
            f"/v1/rmas/{rma_id}/waive-restocking-fee", json={"reason": REASON}
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "invalid_transition"
        assert refused.json()["current_status"] == "cancelled"
