"""Service plans end to end over HTTP, on SQLite and PostgreSQL, with the real dev server:
enrol (the first charge decides), the Certificate of Coverage verifies, claims are refused
with reason codes or approved with the case they start, an RMA on the unit is covered by the
plan, a transfer, and a cancellation with its refund."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.helpers import add_product, customer, make_org, wait_for
from tests.api.test_foundation import assert_problem
from tests.api.test_plans import plan
from tests.api.test_rma_e2e import rma_body
from tests.support import Stack


def enrolment(code: str, sku: str, serial: str, payment_method: str = "pm_ok") -> dict[str, Any]:
    return {
        "plan_code": code,
        "unit": {
            "sku": sku,
            "serial": serial,
            "purchased_at": (datetime.now(UTC) - timedelta(days=200)).isoformat(),
        },
        "customer": customer(),
        "payment_method": payment_method,
    }


async def test_enrol_claim_transfer_cancel(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    # Three months' warranty, bought 200 days ago: only the plan covers it now.
    product = await add_product(
        stack, retailer, category=f"none-{uuid.uuid4().hex[:6]}", warranty_months=3
    )
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    serial = f"SN-{uuid.uuid4().hex[:8]}"
    async with stack.http(retailer.key) as shop:
        created = await shop.post(
            "/v1/plans",
            json=plan(
                code,
                billing_period="annual",
                term_months=12,
                price="120.00",
                waiting_period="PT0S",
                claim_limit=1,
            ),
        )
        assert created.status_code == 201, created.text
        unknown = enrolment("NOPE", product["sku"], serial)
        assert_problem(await shop.post("/v1/service-plans", json=unknown), 422, "unknown_plan")
        declined = await shop.post(
            "/v1/service-plans",
            json=enrolment(code, product["sku"], f"SN-{uuid.uuid4().hex[:8]}", "pm_declined"),
        )
        assert declined.status_code == 201, declined.text
        assert declined.json()["status"] == "rejected"

        enrolled = await shop.post(
            "/v1/service-plans", json=enrolment(code, product["sku"], serial)
        )
        assert enrolled.status_code == 201, enrolled.text
        body = enrolled.json()
        assert body["status"] == "active"
        assert body["term_ends_at"] and body["claims_used"] == 0
        assert [(p["kind"], p["amount"]["amount"], p["status"]) for p in body["payments"]] == [
            ("charge", "120.00", "succeeded")
        ]
        again = await shop.post("/v1/service-plans", json=enrolment(code, product["sku"], serial))
        assert_problem(again, 409, "duplicate_open_case")
        path = f"/v1/service-plans/{body['id']}"

        certificate = next(d for d in body["documents"] if d["kind"] == "coverage_certificate")
        async with stack.http() as anyone:
            verified = await anyone.get(f"/v1/verify/{certificate['verification_code']}")
            assert verified.status_code == 200, verified.text
            assert verified.json()["case_id"] == body["id"]

        refused = await shop.post(f"{path}/claims", json={"type": "repair", "incident": "theft"})
        assert refused.status_code == 201, refused.text
        assert refused.json() == {
            "decision": "refused",
            "reason": "not_covered",
            "repair_id": None,
            "replacement_id": None,
        }
        approved = await shop.post(
            f"{path}/claims", json={"type": "repair", "incident": "breakdown"}
        )
        assert approved.status_code == 201, approved.text
        assert approved.json()["decision"] == "approved"
        repair_id = approved.json()["repair_id"]
        # The repair is its own case, recorded by its own workflow a moment later.
        repair = await wait_for(shop, f"/v1/repairs/{repair_id}", lambda b: "coverage" in b)
        assert repair["coverage"] == "service_plan"
        limit = await shop.post(f"{path}/claims", json={"type": "repair", "incident": "breakdown"})
        assert limit.json()["reason"] == "claim_limit_reached"
        detail = (await shop.get(path)).json()
        assert detail["claims_used"] == 1
        assert [c["decision"] for c in detail["claims"]] == ["refused", "approved", "refused"]
        assert ("deductible", "49.00") in {
            (p["kind"], p["amount"]["amount"]) for p in detail["payments"]
        }

        # An RMA for another unit under a plan is covered by it.
        other_serial = f"SN-{uuid.uuid4().hex[:8]}"
        plan2 = await shop.post(
            "/v1/service-plans", json=enrolment(code, product["sku"], other_serial)
        )
        assert plan2.status_code == 201, plan2.text
        old = rma_body(product["sku"], serial=other_serial, resolution="repair", days_ago=200)
        rma = await shop.post("/v1/rmas", json=old)
        assert rma.status_code == 201, rma.text
        assert rma.json()["coverage"] == "service_plan"

        moved = await shop.post(f"{path}/transfer", json={"customer": customer("Grace Hopper")})
        assert moved.status_code == 200, moved.text
        kinds = [d["kind"] for d in moved.json()["documents"]]
        assert kinds.count("coverage_certificate") == 2
        assert moved.json()["customer"]["name"] == "Grace Hopper"
        changed = await shop.post(f"{path}/payment-method", json={"payment_method": "pm_ok"})
        assert changed.status_code == 200, changed.text

        cancelled = await shop.post(f"{path}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        # A claim was approved: only the unused days come back, less than the 120.00 paid.
        refund = float(cancelled.json()["refund"]["amount"])
        assert 0 < refund < 120
        assert cancelled.json()["status"] == "cancelled"
        assert_problem(await shop.post(f"{path}/cancel"), 409, "invalid_transition")

        # Each command's timeline entry names who gave it (an API key: its organisation);
        # what the plan does by itself, like a charge, is the system's.
        timeline = (await shop.get(path)).json()["timeline"]
        actors = {(e["event"], e["actor"]) for e in timeline}
        by_key = f"retailer:{retailer.id}"
        for event in (
            "claim_refused",
            "claim_approved",
            "transferred",
            "payment_method_changed",
            "cancelled",
        ):
            assert (event, by_key) in actors, (event, timeline)
        assert {a for e, a in actors if e == "claim_refused"} == {by_key}
        assert ("charged", "system") in actors

    other = await make_org(stack, "retailer")
    async with stack.http(other.key) as stranger:
        assert_problem(await stranger.get(path), 404, "not_found")
