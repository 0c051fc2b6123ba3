"""The retailer console's forms over real HTTP, each through the JSON API's own code: a
goodwill return and its fee waiver; the plan catalog, an enrolment, a claim, a transfer and
a cancellation; stock levels; webhooks with their delivery log and a redelivery; the
repair network. Each submitted twice acts once; bad input is a 4xx page with the reason
in `role="alert"`, never a 500."""

from __future__ import annotations

import re
import socket
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.api.helpers import wait_for
from tests.api.test_rma_e2e import rma_body
from tests.console.conftest import ConsoleUsers
from tests.console.support import console_client
from tests.console.test_retail_pages import alert_of, form_of
from tests.support import Stack, eventually

CUSTOMER_FIELDS = {
    "customer_name": "Grace Hopper",
    "customer_email": "grace@example.com",
    "customer_phone": "",
    "customer_line1": "1 Compiler Way",
    "customer_line2": "",
    "customer_city": "Arlington",
    "customer_region": "VA",
    "customer_postal_code": "22201",
    "customer_country": "us",
}


def page_form(html: str, action: str) -> dict[str, str]:
    """The CSRF token and nonce of the form whose action is exactly `action`."""
    return form_of(html.replace(f'action="{action}"', f'action="{action}/__form"'), "__form")


async def post_form(
    console: httpx.AsyncClient, page: str, action: str, fields: dict[str, str]
) -> tuple[httpx.Response, dict[str, str]]:
    """Open `page`, fill its form posting to `action`; the answer and what was sent."""
    shown = await console.get(page)
    assert shown.status_code == 200, shown.text
    sent = page_form(shown.text, action) | fields
    return await console.post(action, data=sent), sent


async def test_goodwill_return_and_fee_waiver(stack: Stack, console_users: ConsoleUsers) -> None:
    old = rma_body(console_users.sku, days_ago=90)
    fields = {
        "order_ref": old["order_ref"],
        "purchased_at": old["purchased_at"][:10],
        "sku": console_users.sku,
        "serial": old["items"][0]["serial"],
        "quantity": "1",
        "reason": "defective",
        "notes": "",
        "resolution": "refund",
        **CUSTOMER_FIELDS,
    }
    async with console_client(stack, console_users.staff) as console:
        # Without goodwill, the window decides: a rejected RMA, shown as such.
        plain = fields | {"serial": f"SN-{uuid.uuid4().hex[:8]}"}
        refused, _ = await post_form(console, "/console/rmas/new", "/console/rmas/new", plain)
        assert refused.status_code == 303, alert_of(refused.text)
        shown = await console.get(refused.headers["location"])
        assert 'data-status="rejected"' in shown.text
        assert "outside_return_window" in shown.text

        goodwill = fields | {"goodwill": "on", "override_reason": "Loyal customer since 2009"}
        created, sent = await post_form(console, "/console/rmas/new", "/console/rmas/new", goodwill)
        assert created.status_code == 303, created.text
        again = await console.post("/console/rmas/new", data=sent)
        assert again.headers["location"] == created.headers["location"]  # one RMA
        page_url = created.headers["location"]
        page = await console.get(page_url)
        assert 'data-status="awaiting_return"' in page.text
        assert "goodwill" in page.text
        assert "Loyal customer since 2009" in page.text

        # A bad form is a 422 with the reason, the values kept.
        bad, _ = await post_form(
            console, "/console/rmas/new", "/console/rmas/new", fields | {"customer_country": "X"}
        )
        assert bad.status_code == 422
        assert "country" in alert_of(bad.text)
        assert fields["order_ref"] in bad.text

        waiver = form_of(page.text, "waive_restocking_fee") | {"reason": "Our courier's fault"}
        waived = await console.post(f"{page_url}/waive_restocking_fee", data=waiver)
        assert waived.status_code == 303, waived.text
        assert (
            await console.post(f"{page_url}/waive_restocking_fee", data=waiver)
        ).status_code == 303
        page = await console.get(page_url)
        assert page.text.count("restocking fee waived") == 1
        assert "/waive_restocking_fee" not in page.text  # once only

        empty = form_of(page.text, "cancel")
        # A waiver without a reason (a stale page, say) is refused before any command.
        no_reason = await console.post(
            f"{page_url}/waive_restocking_fee", data=empty | {"reason": ""}
        )
        assert no_reason.status_code == 422
        assert "reason" in alert_of(no_reason.text)


async def test_plan_catalog_enrolment_claim_transfer_cancel(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    plan_fields = {
        "code": code,
        "name": "Care 24",
        "term_months": "24",
        "billing_period": "monthly",
        "price": "9.99",
        "claim_limit": "2",
        "deductible_repair": "49.00",
        "deductible_replacement": "",
        "incidents": "breakdown, accidental_damage",
        "waiting_period": "PT0S",
        "cancel_full_refund_within": "P30D",
        "auto_renew": "on",
    }
    async with console_client(stack, console_users.owner) as console:
        added, sent = await post_form(console, "/console/plans", "/console/plans", plan_fields)
        assert added.status_code == 303, added.text
        # The same form again: its nonce is the Idempotency-Key, so the first answer again
        # (no "already in the catalog" refusal) and the code is in the catalog once.
        again = await console.post("/console/plans", data=sent)
        assert again.status_code == 303, alert_of(again.text)
        assert again.headers["location"] == added.headers["location"]
        catalog = await console.get("/console/plans")
        assert catalog.text.count(f'<th scope="row">{code}</th>') == 1

        serial = f"SN-{uuid.uuid4().hex[:8]}"
        purchased = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
        enrol = {
            "plan_code": code,
            "sku": console_users.sku,
            "serial": serial,
            "purchased_at": purchased,
            "payment_method": "pm_ok",
            **CUSTOMER_FIELDS,
        }
        enrolled, sent = await post_form(
            console, "/console/service-plans/new", "/console/service-plans/new", enrol
        )
        assert enrolled.status_code == 303, enrolled.text
        again = await console.post("/console/service-plans/new", data=sent)
        assert again.headers["location"] == enrolled.headers["location"]
        plan_url = enrolled.headers["location"]
        plan_id = plan_url.rsplit("/", 1)[1]
        async with stack.http(console_users.retailer.key) as api:
            await wait_for(api, f"/v1/service-plans/{plan_id}", lambda b: b["status"] == "active")

        page = await console.get(plan_url)
        claim = form_of(page.text, "claim") | {
            "type": "repair",
            "incident": "breakdown",
            "description": "No sound",
        }
        claimed = await console.post(f"{plan_url}/claim", data=claim)
        assert claimed.status_code == 303, claimed.text
        assert (await console.post(f"{plan_url}/claim", data=claim)).status_code == 303
        async with stack.http(console_users.retailer.key) as api:
            body = await wait_for(api, f"/v1/service-plans/{plan_id}", lambda b: b["claims"])
        assert len(body["claims"]) == 1  # submitted twice, claimed once
        page = await console.get(plan_url)
        assert body["claims"][0]["case_id"] in page.text
        # An incident the plan does not cover: the workflow's refusal, inline.
        refused = await console.post(
            f"{plan_url}/claim",
            data=form_of(page.text, "claim")
            | {"type": "repair", "incident": "theft", "description": ""},
        )
        assert refused.status_code == 409
        assert "not_covered" in alert_of(refused.text)

        page = await console.get(plan_url)
        transfer = (
            form_of(page.text, "transfer")
            | CUSTOMER_FIELDS
            | {
                "customer_name": "Alan Turing",
                "customer_email": "alan@example.com",
            }
        )
        moved = await console.post(f"{plan_url}/transfer", data=transfer)
        assert moved.status_code == 303, moved.text
        assert "Alan Turing" in (await console.get(plan_url)).text

        page = await console.get(plan_url)
        cancel = form_of(page.text, "cancel") | {"reason": "customer moved abroad"}
        cancelled = await console.post(f"{plan_url}/cancel", data=cancel)
        assert cancelled.status_code == 303, cancelled.text
        page = await console.get(plan_url)
        assert 'data-status="cancelled"' in page.text
        assert f'action="{plan_url}/claim"' not in page.text  # nothing left to do
        # The timeline names the user who claimed, transferred and cancelled.
        async with stack.http(console_users.retailer.key) as api:
            timeline = (await api.get(f"/v1/service-plans/{plan_id}")).json()["timeline"]
        by_user = f"retailer:{console_users.retailer.id}:{console_users.owner.name}"
        for event in ("claim_approved", "claim_refused", "transferred", "cancelled"):
            actors = [e["actor"] for e in timeline if e["event"] == event]
            assert actors == [by_user], (event, timeline)


async def test_stock_levels_and_repair_network(stack: Stack, console_users: ConsoleUsers) -> None:
    sku = console_users.sku
    async with console_client(stack, console_users.staff) as console:
        saved, sent = await post_form(
            console, "/console/inventory", "/console/inventory", {"sku": sku, "quantity": "7"}
        )
        assert saved.status_code == 303, saved.text
        assert (await console.post("/console/inventory", data=sent)).status_code == 303
        async with stack.http(console_users.retailer.key) as api:
            stock = (await api.get(f"/v1/inventory/{sku}")).json()
        assert (stock["quantity"], stock["reserved"]) == (7, 0)
        assert re.search(
            rf"<th scope=\"row\">{sku}</th><td>[^<]*</td><td>7</td>",
            (await console.get("/console/inventory")).text,
        )
        # Set otherwise since, the same form posted again (a reload of the POST) sets nothing:
        # its nonce is the Idempotency-Key of the first submission.
        async with stack.http(console_users.retailer.key) as api:
            changed = await api.put(f"/v1/inventory/{sku}", json={"quantity": 4})
            assert changed.status_code == 200, changed.text
        assert (await console.post("/console/inventory", data=sent)).status_code == 303
        async with stack.http(console_users.retailer.key) as api:
            assert (await api.get(f"/v1/inventory/{sku}")).json()["quantity"] == 4
            assert (await api.put(f"/v1/inventory/{sku}", json={"quantity": 7})).status_code == 200
        bad, _ = await post_form(
            console, "/console/inventory", "/console/inventory", {"sku": sku, "quantity": "-1"}
        )
        assert bad.status_code == 422
        assert "quantity" in alert_of(bad.text)

        center = console_users.center.id
        saved, _ = await post_form(
            console, "/console/repair-network", "/console/repair-network", {"centers": center}
        )
        assert saved.status_code == 303, saved.text
        page = await console.get("/console/repair-network")
        assert f"({center})" in page.text
        async with stack.http(console_users.retailer.key) as api:
            assert (await api.get("/v1/repair-network")).json()["centers"] == [center]
        unknown, _ = await post_form(
            console,
            "/console/repair-network",
            "/console/repair-network",
            {"centers": f"{center}\nnot-a-center"},
        )
        assert unknown.status_code == 422
        assert "not-a-center" in alert_of(unknown.text)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_delivery_log_and_redelivery(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    async with console_client(stack, console_users.owner) as console:
        created, sent = await post_form(
            console, "/console/webhooks", "/console/webhooks", {"url": url, "events": "rma.*"}
        )
        assert created.status_code == 200, created.text
        secret = re.search(r'<code class="secret">([^<]+)</code>', created.text)
        assert secret and secret.group(1).startswith("whsec_")
        # The same form again: the same webhook and the same secret, not a second one.
        again = await console.post("/console/webhooks", data=sent)
        assert secret.group(1) in again.text
        async with stack.http(console_users.retailer.key) as api:
            hooks = (await api.get("/v1/webhooks")).json()["items"]
            assert len(hooks) == 1
            hook_id = hooks[0]["id"]
            body = rma_body(console_users.sku)
            assert (await api.post("/v1/rmas", json=body)).status_code == 201

        # Nobody listens there: the deliveries fail once their retry window is over.
        async def failed() -> str:
            return (await console.get(f"/console/webhooks/{hook_id}?status=failed")).text

        log = await eventually(failed, lambda t: "Redeliver" in t, what="a failed delivery")
        home = await console.get("/console/")
        assert re.search(
            r'href="/console/webhooks\?status=failed"><strong class="count">[1-9]', home.text
        )
        assert "failed" in log
        action = re.search(r'action="(/console/webhooks/[^"]+/redeliver)"', log)
        assert action
        redeliver = form_of(log, "redeliver")
        answer = await console.post(action.group(1), data=redeliver)
        assert answer.status_code == 303, answer.text
        shown = await console.get(answer.headers["location"])
        assert "Sent again" in shown.text
        assert "sent again 1" in shown.text

        missing = await console.get(f"/console/webhooks/{uuid.uuid4().hex}")
        assert missing.status_code == 404
