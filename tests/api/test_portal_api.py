"""The return portal's JSON API end to end over HTTP, with the real worker and database: a
customer looks an order up by number and email, tries the troubleshooting steps, and starts
returns through the same RMA workflow and policy as a retailer's `POST /v1/rmas`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from db import models
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import make_org, wait_for
from tests.api.portal_helpers import (
    STEPS,
    lookup,
    new_shop,
    opened,
    order_body,
    put_order,
    serial,
)
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import with_label
from tests.support import ADMIN_KEY, Stack


async def test_a_return_for_each_resolution_the_policy_allows(stack: Stack) -> None:
    shop = await new_shop(stack, products=3)
    units = [serial() for _ in shop.skus]
    order = order_body([{"sku": s, "serial": n} for s, n in zip(shop.skus, units, strict=True)])
    await put_order(stack, shop, order)

    async with stack.http() as customer, stack.http(shop.org.key) as retailer:
        found = await opened(customer, shop.slug, order["order_ref"])
        assert [line["sku"] for line in found["lines"]] == shop.skus
        for line in found["lines"]:
            assert line["returnable"] is True and line["reason"] is None
            assert line["resolutions"] == ["refund", "replacement", "repair"]
            assert line["name"] == f"Product {line['sku']}"

        started = {}
        for sku, resolution in zip(shop.skus, ["refund", "replacement", "repair"], strict=True):
            answer = await customer.post(
                f"/v1/portal/{shop.slug}/returns",
                json={
                    "lookup_token": found["lookup_token"],
                    "sku": sku,
                    "reason": "defective",
                    "resolution": resolution,
                    "notes": "it stopped working",
                },
            )
            assert answer.status_code == 201, answer.text
            body = answer.json()
            assert body["status"] == "awaiting_return"
            assert set(body) == {"rma_id", "tracking_token", "status"}
            started[resolution] = body

        for resolution, body in started.items():
            # The retailer's own view of the same RMA: its customer, its order, its policy.
            rma = await wait_for(retailer, f"/v1/rmas/{body['rma_id']}", with_label)
            assert rma["resolution"] == resolution
            assert rma["order_ref"] == order["order_ref"]
            assert rma["tracking_token"] == body["tracking_token"]
            assert rma["coverage"] == "return_window"
            assert rma["items"][0]["serial"] in units
            assert rma["items"][0]["notes"] == "it stopped working"
            assert rma["timeline"][0]["event"] == "created"
            assert rma["timeline"][0]["actor"] == "customer"
            tracked = await customer.get(f"/v1/track/{body['tracking_token']}")
            assert tracked.status_code == 200, tracked.text

        # Every line is in an open case now: none is offered again, each says why.
        again = await opened(customer, shop.slug, order["order_ref"])
        assert [(x["returnable"], x["reason"]) for x in again["lines"]] == [
            (False, "open_case")
        ] * 3
        refused = await customer.post(
            f"/v1/portal/{shop.slug}/returns",
            json={
                "lookup_token": again["lookup_token"],
                "sku": shop.skus[0],
                "reason": "defective",
                "resolution": "repair",
            },
        )
        assert_problem(refused, 409, "not_returnable")
        assert refused.json()["reason"] == "open_case"


async def test_the_policy_decides_which_resolutions_are_offered(stack: Stack) -> None:
    """60 days after purchase (return window 30 days, warranty 12 months): no refund, but a
    replacement or repair under warranty; past the warranty a paid repair only."""
    shop = await new_shop(stack, products=2)
    in_warranty, out_of_warranty = shop.skus
    async with stack.http(shop.org.key) as retailer:
        product = await retailer.put(
            f"/v1/products/{out_of_warranty}",
            json={
                "name": "Old speaker",
                "category": "audio",
                "unit_price": {"amount": "80.00", "currency": "USD"},
                "warranty_months": 1,
            },
        )
        assert product.status_code == 200, product.text
    order = order_body(
        [{"sku": in_warranty, "serial": serial()}, {"sku": out_of_warranty, "serial": serial()}],
        days_ago=60,
    )
    await put_order(stack, shop, order)
    async with stack.http() as customer:
        found = await opened(customer, shop.slug, order["order_ref"])
        offered = {line["sku"]: line["resolutions"] for line in found["lines"]}
        assert offered == {in_warranty: ["replacement", "repair"], out_of_warranty: ["repair"]}

        refund = await customer.post(
            f"/v1/portal/{shop.slug}/returns",
            json={
                "lookup_token": found["lookup_token"],
                "sku": in_warranty,
                "reason": "defective",
                "resolution": "refund",
            },
        )
        assert_problem(refund, 422, "resolution_not_allowed")
        assert refund.json()["allowed"] == ["replacement", "repair"]

        paid = await customer.post(
            f"/v1/portal/{shop.slug}/returns",
            json={
                "lookup_token": found["lookup_token"],
                "sku": out_of_warranty,
                "reason": "defective",
                "resolution": "repair",
            },
        )
        assert paid.status_code == 201, paid.text
    async with stack.http(shop.org.key) as retailer:
        rma = (await retailer.get(f"/v1/rmas/{paid.json()['rma_id']}")).json()
    assert rma["coverage"] == "paid"


async def test_a_line_without_serial_takes_the_customers_and_is_not_offered_twice(
    stack: Stack,
) -> None:
    shop = await new_shop(stack)
    order = order_body([{"sku": shop.skus[0], "quantity": 1}])
    await put_order(stack, shop, order)
    async with stack.http() as customer:
        found = await opened(customer, shop.slug, order["order_ref"])
        ask = {
            "lookup_token": found["lookup_token"],
            "sku": shop.skus[0],
            "reason": "no_longer_needed",
            "resolution": "refund",
        }
        missing = await customer.post(f"/v1/portal/{shop.slug}/returns", json=ask)
        assert_problem(missing, 422, "validation_error")
        unit = serial()
        answer = await customer.post(
            f"/v1/portal/{shop.slug}/returns", json={**ask, "serial": unit}
        )
        assert answer.status_code == 201, answer.text
        again = await opened(customer, shop.slug, order["order_ref"])
        assert again["lines"][0]["returnable"] is False
        assert again["lines"][0]["reason"] == "open_case"
    async with stack.http(shop.org.key) as retailer:
        rma = (await retailer.get(f"/v1/rmas/{answer.json()['rma_id']}")).json()
    assert rma["items"][0]["serial"] == unit


async def test_the_same_idempotency_key_is_one_return(stack: Stack) -> None:
    shop = await new_shop(stack)
    order = order_body([{"sku": shop.skus[0], "serial": serial()}])
    await put_order(stack, shop, order)
    async with stack.http() as customer:
        found = await opened(customer, shop.slug, order["order_ref"])
        ask = {
            "lookup_token": found["lookup_token"],
            "sku": shop.skus[0],
            "reason": "defective",
            "resolution": "refund",
        }
        headers = {"Idempotency-Key": "portal-once"}
        first = await customer.post(f"/v1/portal/{shop.slug}/returns", json=ask, headers=headers)
        second = await customer.post(f"/v1/portal/{shop.slug}/returns", json=ask, headers=headers)
    assert first.status_code == second.status_code == 201, second.text
    assert first.json() == second.json()


async def test_this_fixed_it_records_a_deflection_and_starts_no_return(stack: Stack) -> None:
    shop = await new_shop(stack)
    sku = shop.skus[0]
    async with stack.http(shop.org.key) as retailer:
        put = await retailer.put(f"/v1/products/{sku}/troubleshooting", json={"steps": STEPS})
        assert put.status_code == 200, put.text
        assert put.json() == {"steps": STEPS}
        assert (await retailer.get(f"/v1/products/{sku}/troubleshooting")).json() == put.json()
    order = order_body([{"sku": sku, "serial": serial()}])
    await put_order(stack, shop, order)

    async with stack.http() as customer:
        found = await opened(customer, shop.slug, order["order_ref"])
        steps = found["lines"][0]["troubleshooting"]
        assert steps == [{"step": n, **s} for n, s in enumerate(STEPS, start=1)]
        deflect = {"lookup_token": found["lookup_token"], "sku": sku, "step": 2}
        first = await customer.post(f"/v1/portal/{shop.slug}/deflections", json=deflect)
        assert first.status_code == 201, first.text
        assert first.json()["step"] == 2 and first.json()["sku"] == sku
        repeat = await customer.post(f"/v1/portal/{shop.slug}/deflections", json=deflect)
        assert repeat.status_code == 201 and repeat.json()["id"] == first.json()["id"]
        beyond = await customer.post(
            f"/v1/portal/{shop.slug}/deflections", json={**deflect, "step": 3}
        )
        assert_problem(beyond, 422, "validation_error")
        # A deflection is not a case: the line is still on offer, and no RMA exists.
        again = await opened(customer, shop.slug, order["order_ref"])
        assert again["lines"][0]["returnable"] is True
    async with stack.http(shop.org.key) as retailer:
        assert (await retailer.get("/v1/rmas")).json()["items"] == []
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.scalars(
                    select(models.Deflection).where(models.Deflection.org_id == shop.org.id)
                )
            ).all()
    finally:
        await engine.dispose()
    assert [(r.sku, r.step, r.step_title) for r in rows] == [(sku, 2, STEPS[1]["title"])]


async def test_troubleshooting_steps_are_bounded(stack: Stack) -> None:
    shop = await new_shop(stack)
    path = f"/v1/products/{shop.skus[0]}/troubleshooting"
    async with stack.http(shop.org.key) as retailer:
        too_many = await retailer.put(path, json={"steps": [STEPS[0]] * 11})
        assert_problem(too_many, 422, "validation_error")
        long_title = await retailer.put(path, json={"steps": [{"title": "x" * 121, "body": "b"}]})
        assert_problem(long_title, 422, "validation_error")
        control = await retailer.put(path, json={"steps": [{"title": "a\x00", "body": "b"}]})
        assert_problem(control, 422, "validation_error")
        unknown = await retailer.put("/v1/products/NOPE-1/troubleshooting", json={"steps": []})
        assert_problem(unknown, 404, "not_found")
        lines = await retailer.put(path, json={"steps": [{"title": "t", "body": "a\nb"}]})
        assert lines.status_code == 200, lines.text
        cleared = await retailer.put(path, json={"steps": []})
        assert cleared.json() == {"steps": []}


async def test_a_wrong_email_is_the_same_404_as_an_unknown_order(stack: Stack) -> None:
    shop = await new_shop(stack)
    order = order_body([{"sku": shop.skus[0], "serial": serial()}])
    await put_order(stack, shop, order)
    async with stack.http() as customer:
        wrong_email = await lookup(customer, shop.slug, order["order_ref"], "eve@example.com")
        unknown = await lookup(customer, shop.slug, "WEB-NOPE", "ada@example.com")
        # The email is compared as the shop stored it: lower-cased, trimmed.
        right = await lookup(customer, shop.slug, order["order_ref"], "  ADA@example.COM ")
    assert_problem(wrong_email, 404, "not_found")
    assert wrong_email.json() == unknown.json()
    assert wrong_email.headers["content-type"] == unknown.headers["content-type"]
    assert right.status_code == 200, right.text


async def test_more_than_ten_lookups_a_minute_are_refused(stack: Stack) -> None:
    shop = await new_shop(stack)
    order = order_body([{"sku": shop.skus[0], "serial": serial()}])
    await put_order(stack, shop, order)
    async with stack.http() as customer:
        answers = [
            await lookup(customer, shop.slug, f"WEB-GUESS-{n}", "ada@example.com")
            for n in range(10)
        ]
        eleventh = await lookup(customer, shop.slug, order["order_ref"])
    # Usually ten 404s then the 429; a minute that turns during the ten starts a new count.
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {404}
    if eleventh.status_code != 200:
        assert_problem(eleventh, 429, "rate_limited")
        assert 1 <= int(eleventh.headers["Retry-After"]) <= 60
    async with stack.http() as customer:
        more = [await lookup(customer, shop.slug, order["order_ref"]) for _ in range(12)]
    assert 429 in {a.status_code for a in more}
    limited = next(a for a in more if a.status_code == 429)
    assert_problem(limited, 429, "rate_limited")


async def test_an_expired_lookup_opens_nothing(stack: Stack) -> None:
    shop = await new_shop(stack)
    order = order_body([{"sku": shop.skus[0], "serial": serial()}])
    await put_order(stack, shop, order)
    async with stack.http() as customer:
        found = await opened(customer, shop.slug, order["order_ref"])
        # Thirty minutes pass.
        engine = make_engine(stack.settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                await session.execute(
                    update(models.PortalLookup)
                    .where(models.PortalLookup.org_id == shop.org.id)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
                await session.commit()
        finally:
            await engine.dispose()
        answer = await customer.post(
            f"/v1/portal/{shop.slug}/returns",
            json={
                "lookup_token": found["lookup_token"],
                "sku": shop.skus[0],
                "reason": "defective",
                "resolution": "refund",
            },
        )
        assert_problem(answer, 404, "lookup_expired")
        garbage = await customer.post(
            f"/v1/portal/{shop.slug}/deflections",
            json={"lookup_token": "x" * 43, "sku": shop.skus[0], "step": 1},
        )
        assert_problem(garbage, 404, "lookup_expired")
    async with stack.http(shop.org.key) as retailer:
        assert (await retailer.get("/v1/rmas")).json()["items"] == []


async def test_one_shops_portal_opens_none_of_anothers(stack: Stack) -> None:
    shop, other = await new_shop(stack), await new_shop(stack)
    order = order_body([{"sku": shop.skus[0], "serial": serial()}])
    await put_order(stack, shop, order)
    center = await make_org(stack, "repair_center")
    async with stack.http(ADMIN_KEY) as admin:
        center_slug = (await admin.patch(f"/v1/orgs/{center.id}", json={})).json()["slug"]
    async with stack.http() as customer:
        found = await opened(customer, shop.slug, order["order_ref"])
        # The order under another shop's portal: unknown there.
        assert_problem(await lookup(customer, other.slug, order["order_ref"]), 404, "not_found")
        # This shop's lookup token at another shop's portal opens nothing.
        elsewhere = await customer.post(
            f"/v1/portal/{other.slug}/returns",
            json={
                "lookup_token": found["lookup_token"],
                "sku": shop.skus[0],
                "reason": "defective",
                "resolution": "refund",
            },
        )
        assert_problem(elsewhere, 404, "lookup_expired")
        # A repair center has no portal; nor has a slug nobody holds.
        for slug in (center_slug, "no-such-shop", "x" * 300):
            assert_problem(await lookup(customer, slug, order["order_ref"]), 404, "not_found")
        assert (await customer.get("/returns/no-such-shop")).status_code == 404


async def test_orders_are_kept_by_ref_and_replaced_whole(stack: Stack) -> None:
    shop = await new_shop(stack, products=2)
    first, second = shop.skus
    order = order_body([{"sku": first, "serial": "SN-A"}, {"sku": first, "quantity": 2}])
    async with stack.http(shop.org.key) as retailer:
        created = await retailer.post("/v1/orders", json=order)
        assert created.status_code == 201, created.text
        assert created.json()["customer"]["email"] == "ada@example.com"
        assert [line["quantity"] for line in created.json()["lines"]] == [1, 2]

        assert created.json()["customer"]["locale"] is None

        german = {**order["customer"], "locale": "de-DE", "time_zone": "Europe/Berlin"}
        lines = [{"sku": second, "serial": "SN-B", "quantity": 1}]
        replacement = {**order, "customer": german, "lines": lines}
        replaced = await retailer.post("/v1/orders", json=replacement)
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["id"] == created.json()["id"]
        got = (await retailer.get(f"/v1/orders/{order['order_ref']}")).json()
        assert got["lines"] == lines
        assert (got["customer"]["locale"], got["customer"]["time_zone"]) == (
            "de-DE",
            "Europe/Berlin",
        )

        keyed = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
        again = {**order, "order_ref": f"WEB-{uuid.uuid4().hex[:8]}"}
        one = await retailer.post("/v1/orders", json=again, headers=keyed)
        two = await retailer.post("/v1/orders", json=again, headers=keyed)
        assert one.status_code == 201 and two.status_code == 200
        assert one.json()["id"] == two.json()["id"]
        other_body = await retailer.post("/v1/orders", json=order, headers=keyed)
        assert_problem(other_body, 409, "idempotency_conflict")

        assert_problem(
            await retailer.post("/v1/orders", json={**order, "lines": [{"sku": "NOPE"}]}),
            422,
            "unknown_sku",
        )
        future = {**order, "placed_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
        assert_problem(await retailer.post("/v1/orders", json=future), 422, "invalid_purchase_date")
        long_ref = {**order, "order_ref": "R" * 101}
        assert_problem(await retailer.post("/v1/orders", json=long_ref), 422, "validation_error")
        assert_problem(await retailer.get("/v1/orders/WEB-NOPE"), 404, "not_found")

    stranger = await make_org(stack, "retailer")
    center = await make_org(stack, "repair_center")
    async with stack.http(stranger.key) as http:
        assert_problem(await http.get(f"/v1/orders/{order['order_ref']}"), 404, "not_found")
    async with stack.http(center.key) as http:
        assert_problem(await http.post("/v1/orders", json=order), 403, "forbidden")


async def test_slugs_come_from_names_and_may_change(stack: Stack) -> None:
    name = f"Café Zürich {uuid.uuid4().hex[:6]}"
    async with stack.http(ADMIN_KEY) as admin:
        one = (await admin.post("/v1/orgs", json={"name": name, "kind": "retailer"})).json()
        two = (await admin.post("/v1/orgs", json={"name": name, "kind": "retailer"})).json()
        assert one["slug"] == f"cafe-zurich-{name[-6:]}"
        assert two["slug"] == f"{one['slug']}-2"
        taken = await admin.patch(f"/v1/orgs/{two['id']}", json={"slug": one["slug"]})
        assert_problem(taken, 409, "slug_taken")
        for bad in ("Upper", "-edge", "a b", "x" * 65, ""):
            answer = await admin.patch(f"/v1/orgs/{two['id']}", json={"slug": bad})
            assert_problem(answer, 422, "validation_error")
        new_slug = f"zurich-{uuid.uuid4().hex[:6]}"
        moved = await admin.patch(f"/v1/orgs/{two['id']}", json={"slug": new_slug})
        assert moved.status_code == 200 and moved.json()["slug"] == new_slug
    stranger = await make_org(stack, "retailer")
    async with stack.http(stranger.key) as http:
        answer = await http.patch(f"/v1/orgs/{one['id']}", json={"slug": "mine-now"})
        assert_problem(answer, 404, "not_found")
