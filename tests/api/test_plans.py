"""The service-plan catalog over HTTP (groundwork for issue #7): every §5 field in and out,
refusals, a change of terms, and tenancy."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.helpers import make_org
from tests.api.test_foundation import assert_problem
from tests.support import Stack


def plan(code: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": "Care 36",
        "term_months": 36,
        "billing_period": "monthly",
        "price": {"amount": "9.99", "currency": "USD"},
        "claim_limit": 2,
        "deductibles": {"repair": "49.00", "replacement": {"amount": "99", "currency": "USD"}},
        "waiting_period": "P14D",
        "incidents": ["breakdown", "accidental_damage"],
        "cancel_full_refund_within": "P30D",
        "auto_renew": True,
    }
    body.update(changes)
    return body


async def test_plan_catalog(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/plans", json=plan(code))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["code"] == code
        assert body["price"] == {"amount": "9.99", "currency": "USD"}
        assert body["deductibles"] == {
            "repair": {"amount": "49.00", "currency": "USD"},
            "replacement": {"amount": "99.00", "currency": "USD"},
        }
        assert body["waiting_period"] == "P14D"
        assert body["cancel_full_refund_within"] == "P30D"
        assert body["incidents"] == ["accidental_damage", "breakdown"]
        assert_problem(await shop.post("/v1/plans", json=plan(code)), 409, "duplicate_plan_code")

        for bad in (
            plan("X1", billing_period="annual", term_months=18),
            plan("X2", incidents=[]),
            plan("X3", price="-1"),
            plan("X4", deductibles={"theft": "10"}),
            plan("X5", waiting_period="soon"),
        ):
            assert_problem(await shop.post("/v1/plans", json=bad), 422, "validation_error")
        assert [p["code"] for p in (await shop.get("/v1/plans")).json()] == [code]

        changed = {k: v for k, v in plan(code, price="11.49").items() if k != "code"}
        replaced = await shop.put(f"/v1/plans/{code}", json=changed)
        assert replaced.status_code == 200, replaced.text
        assert (await shop.get(f"/v1/plans/{code}")).json()["price"]["amount"] == "11.49"
        assert_problem(await shop.get("/v1/plans/NOPE"), 404, "not_found")

    other = await make_org(stack, "retailer")
    async with stack.http(other.key) as stranger:
        assert_problem(await stranger.get(f"/v1/plans/{code}"), 404, "not_found")
    center = await make_org(stack, "repair_center")
    async with stack.http(center.key) as bench:
        assert_problem(await bench.post("/v1/plans", json=plan("Y")), 403, "forbidden")
